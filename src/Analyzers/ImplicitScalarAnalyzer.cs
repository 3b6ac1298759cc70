using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace ExplainCluster.Analyzers;

/// <summary>
/// EC0001: a torch Scalar made where TorchSharp 0.107 does not hold it while libtorch reads it. Such a Scalar can be freed
/// by the finaliser mid-call, and libtorch then fails with "Expected false to be true" (c10/core/Scalar.h); a 1,000,000-row
/// job failed so in kernel-shap, integrated gradients and the least-squares fit. Flags an implicit conversion of a number to
/// Scalar, the tensor operators that make one inside TorchSharp (<c>a + b</c> and <c>1 - t</c> pass an alpha of 1,
/// <c>t * 0.5</c> converts the number), and the calls that pass a literal one (<c>add(t)</c>, <c>square()</c>,
/// <c>arange</c> without its three Scalars). The engine passes the rooted Scalars of <c>Scalars</c> instead.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class ImplicitScalarAnalyzer : DiagnosticAnalyzer
{
    public static readonly DiagnosticDescriptor Rule = new(
        "EC0001", "A torch Scalar that nothing holds during the call",
        "{0} makes a torch Scalar that TorchSharp 0.107 does not hold while libtorch reads it; use the rooted helpers of Engine/Methods/Scalars.cs",
        "Reliability", DiagnosticSeverity.Error, isEnabledByDefault: true);

    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics => ImmutableArray.Create(Rule);

    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(start =>
        {
            var scalar = start.Compilation.GetTypeByMetadataName("TorchSharp.Scalar");
            var tensor = start.Compilation.GetTypeByMetadataName("TorchSharp.torch+Tensor");
            if (scalar is null || tensor is null) return;
            bool IsScalar(ITypeSymbol? t) => SymbolEqualityComparer.Default.Equals(t, scalar);
            bool IsTensor(ITypeSymbol? t) => SymbolEqualityComparer.Default.Equals(t, tensor);
            void Report(OperationAnalysisContext c, string what) => c.ReportDiagnostic(Diagnostic.Create(Rule, c.Operation.Syntax.GetLocation(), what));

            start.RegisterOperationAction(c =>
            {
                var conversion = (IConversionOperation)c.Operation;
                if (IsScalar(conversion.Type) && !IsScalar(conversion.Operand.Type) && conversion.Conversion.IsUserDefined && conversion.IsImplicit)
                    Report(c, $"The implicit conversion of '{conversion.Operand.Syntax}' to Scalar");
            }, OperationKind.Conversion);

            start.RegisterOperationAction(c =>
            {
                var binary = (IBinaryOperation)c.Operation;
                if (binary.OperatorMethod is not { } m || !IsTensor(m.ContainingType)) return;
                var (left, right) = (m.Parameters[0].Type, m.Parameters[1].Type);
                if (m.Name == "op_Addition") Report(c, "A tensor's operator + (an alpha of 1)");
                else if (m.Name == "op_Subtraction" && !IsTensor(left)) Report(c, "A number minus a tensor (an alpha of 1)");
                else if (!IsTensor(left) && !IsScalar(left) || !IsTensor(right) && !IsScalar(right)) Report(c, $"A tensor's {m.Name} with a number");
            }, OperationKind.Binary);

            start.RegisterOperationAction(c =>
            {
                var assignment = (ICompoundAssignmentOperation)c.Operation;
                if (assignment.OperatorMethod is { } m && IsTensor(m.ContainingType) && (m.Name == "op_Addition" || !IsTensor(m.Parameters[1].Type)))
                    Report(c, $"A tensor's compound {m.Name}");
            }, OperationKind.CompoundAssignment);

            start.RegisterOperationAction(c =>
            {
                var call = (IInvocationOperation)c.Operation;
                var m = call.TargetMethod;
                if (!TorchSharpSymbols.Declares(m)) return;
                var n = m.Parameters.Length;
                if ((m.Name is "add" or "add_" && n == 1) || (m.Name is "addcdiv" or "addcdiv_" && n == 2) || m.Name is "square" or "celu" or "celu_" or "elu" or "elu_"
                    || (m.Name == "arange" && m.Parameters.Count(p => IsScalar(p.Type)) < 3))
                    Report(c, $"{m.Name} with {n} arguments (a literal Scalar inside TorchSharp)");
            }, OperationKind.Invocation);
        });
    }
}
