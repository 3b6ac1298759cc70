using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace ExplainCluster.Analyzers;

/// <summary>
/// EC0002: a gradient-mode scope (<c>using var g = no_grad();</c>, <c>using (enable_grad()) { … }</c>) with an await inside
/// it. libtorch keeps the mode per thread: the scope sets it on the thread it begins on and restores it on whichever thread
/// ends it. Across an await those are two threads, so the first keeps gradients off for whatever the pool runs on it next,
/// and an autograd.grad there fails with "element 0 of tensors does not require grad", an uncaught C++ exception that ends
/// the process (the test host ended so, twice, in a class that had not touched the mode). End the scope before the await.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class GradModeScopeAnalyzer : DiagnosticAnalyzer
{
    public static readonly DiagnosticDescriptor Rule = new(
        "EC0002", "A gradient-mode scope with an await inside it",
        "{0} sets the gradient mode of this thread alone, and the await on line {1} can resume on another thread, which leaves the mode set on the first; end the scope before the await",
        "Reliability", DiagnosticSeverity.Error, isEnabledByDefault: true);

    private static readonly ImmutableHashSet<string> Modes = ImmutableHashSet.Create("no_grad", "enable_grad", "set_grad_enabled", "inference_mode");

    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics => ImmutableArray.Create(Rule);

    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();

        context.RegisterOperationAction(c =>
        {
            var statement = (IUsingOperation)c.Operation;
            if (ModeCall(statement.Resources) is { } mode && FirstAwait([statement.Body]) is { } await)
                Report(c, mode, await);
        }, OperationKind.Using);

        context.RegisterOperationAction(c =>
        {
            var declaration = (IUsingDeclarationOperation)c.Operation;
            if (ModeCall(declaration.DeclarationGroup) is not { } mode || declaration.Parent is not IBlockOperation block) return;
            // The declaration's scope is the rest of its block.
            var rest = block.Operations.SkipWhile(o => o != declaration).Skip(1);
            if (FirstAwait(rest) is { } await) Report(c, mode, await);
        }, OperationKind.UsingDeclaration);
    }

    private static void Report(OperationAnalysisContext c, IInvocationOperation mode, IOperation await) =>
        c.ReportDiagnostic(Diagnostic.Create(Rule, mode.Syntax.GetLocation(), mode.Syntax.ToString(),
            await.Syntax.GetLocation().GetLineSpan().StartLinePosition.Line + 1));

    private static IInvocationOperation? ModeCall(IOperation resource) =>
        Walk(resource).OfType<IInvocationOperation>().FirstOrDefault(call =>
            Modes.Contains(call.TargetMethod.Name) && TorchSharpSymbols.Declares(call.TargetMethod));

    /// <summary>The first await in <paramref name="operations"/>: an await expression, an await foreach or an await using.</summary>
    private static IOperation? FirstAwait(IEnumerable<IOperation> operations) =>
        operations.SelectMany(Walk).FirstOrDefault(o => o is IAwaitOperation
            || o is IForEachLoopOperation { IsAsynchronous: true }
            || o is IUsingOperation { IsAsynchronous: true }
            || o is IUsingDeclarationOperation { IsAsynchronous: true });

    /// <summary>The operation and those under it, in source order, leaving out lambdas and local functions: they run elsewhere.</summary>
    private static IEnumerable<IOperation> Walk(IOperation operation)
    {
        var pending = new Stack<IOperation>();
        pending.Push(operation);
        while (pending.Count > 0)
        {
            var o = pending.Pop();
            yield return o;
            foreach (var child in o.ChildOperations.Reverse())
                if (child is not IAnonymousFunctionOperation and not ILocalFunctionOperation) pending.Push(child);
        }
    }
}
