using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace ExplainCluster.Engine.Models;

/// <summary>A module class: its attributes in header order (submodules among them), Final constants and methods.</summary>
/// <param name="Name">As the archive spells it, e.g. <c>__torch__.torch.nn.modules.linear.___torch_mangle_3.Linear</c>.</param>
/// <param name="Problem">Why the class could not be read; its methods are then empty.</param>
internal sealed partial record ScriptClass(
    string Name, IReadOnlyList<(string Name, string Type)> Attributes,
    IReadOnlyDictionary<string, object?> Finals, IReadOnlyDictionary<string, ScriptMethod> Methods, string? Problem = null)
{
    /// <summary>The short class name, for people ("Linear"); never for deciding what a module does.</summary>
    public string Kind => Name[(Name.LastIndexOf('.') + 1)..];

    /// <summary>
    /// What people are shown (the manifest, the report): PyTorch's short name for its own classes ("Conv2d"), the qualified
    /// name for any other ("__torch__.Linear": a user's class that only shares the name).
    /// </summary>
    public string Shown => Qualified.StartsWith("__torch__.torch.", StringComparison.Ordinal) || Qualified.StartsWith("__torch__.torchvision.", StringComparison.Ordinal)
        ? Kind : Qualified;

    /// <summary>
    /// The class as Python qualifies it, TorchScript's mangling removed: <c>__torch__.torch.nn.modules.linear.Linear</c>.
    /// A user's own class named <c>Linear</c> is <c>__torch__.Linear</c> or <c>__torch__.mymodels.Linear</c>.
    /// </summary>
    public string Qualified => Mangle().Replace(Name, "");

    public long[]? Pair(string final) => Finals.TryGetValue(final, out var v) ? v switch
    {
        long one => [one, one],
        object?[] { Length: 2 } two when two.All(x => x is long) => [(long)two[0]!, (long)two[1]!],
        _ => null,
    } : null;

    [GeneratedRegex(@"___torch_mangle_\d+\.")]
    private static partial Regex Mangle();
}

/// <summary>A method's parameters (self first) and straight-line body; <see cref="Unsupported"/> says why it cannot be interpreted.</summary>
internal sealed record ScriptMethod(string Name, string[] Parameters, IReadOnlyList<Statement> Body, string? Unsupported);

/// <summary>
/// <c>target = value</c>, <c>a, b = value</c> (tuple unpacking: <see cref="Targets"/> has several names), a bare
/// expression (no targets), or <c>return value</c>.
/// </summary>
internal sealed record Statement(string[] Targets, Expr Value, bool IsReturn);

internal abstract record Expr;

internal sealed record Name(string Id) : Expr;

internal sealed record Attribute(Expr Target, string Name) : Expr;

internal sealed record Call(Expr Function, Expr[] Args, (string Name, Expr Value)[] Keywords) : Expr;

internal sealed record Const(object? Value) : Expr;

internal sealed record ListExpr(Expr[] Items) : Expr;

/// <summary>
/// Recursive descent over the expressions TorchScript's printer writes: names, attributes, calls, literals, lists
/// and tuples. Total: any text it does not read is a <see cref="FormatException"/> with a reason, never another exception.
/// </summary>
internal sealed class ExpressionParser
{
    private const int MaxDepth = 200;
    private readonly string _text;
    private int _at;
    private int _depth;

    private ExpressionParser(string text) => _text = text;

    public static Expr Parse(string text)
    {
        var parser = new ExpressionParser(text);
        var e = parser.Expression();
        parser.Skip();
        if (parser._at != text.Length) throw new FormatException($"unsupported expression at column {parser._at + 1}");
        return e;
    }

    private Expr Expression()
    {
        if (++_depth > MaxDepth) throw new FormatException("expression nested too deeply");
        Skip();
        Expr e;
        if (Peek('-'))
        {
            _at++;
            e = Primary() switch
            {
                Const { Value: long l } => new Const(-l),
                Const { Value: double d } => new Const(-d),
                _ => throw new FormatException("unsupported negation"),
            };
        }
        else e = Primary();
        while (true)
        {
            Skip();
            if (Peek('.'))
            {
                _at++;
                e = new Attribute(e, Identifier());
            }
            else if (Peek('('))
            {
                _at++;
                var (args, keywords, _) = Arguments(')');
                e = new Call(e, args, keywords);
            }
            else
            {
                _depth--;
                return e;
            }
        }
    }

    private Expr Primary()
    {
        Skip();
        if (_at >= _text.Length) throw new FormatException("expression cut short");
        var c = _text[_at];
        if (c == '(')
        {
            _at++;
            var (items, keywords, trailingComma) = Arguments(')');
            if (keywords.Length > 0) throw new FormatException("unsupported expression: a keyword in parentheses");
            return items.Length == 1 && !trailingComma ? items[0] : new ListExpr(items);
        }
        if (c == '[')
        {
            _at++;
            var (items, keywords, _) = Arguments(']');
            if (keywords.Length > 0) throw new FormatException("unsupported expression: a keyword in a list");
            return new ListExpr(items);
        }
        if (c == '"') return new Const(StringLiteral());
        if (char.IsDigit(c)) return Number();
        var id = Identifier();
        return id switch
        {
            "None" => new Const(null),
            "True" => new Const(true),
            "False" => new Const(false),
            _ => new Name(id),
        };
    }

    /// <summary>Arguments up to <paramref name="close"/>, and whether a comma came last ("(x,)" is a tuple).</summary>
    private (Expr[] Args, (string, Expr)[] Keywords, bool TrailingComma) Arguments(char close)
    {
        var args = new List<Expr>();
        var keywords = new List<(string, Expr)>();
        var trailingComma = false;
        while (true)
        {
            Skip();
            if (_at >= _text.Length) throw new FormatException($"unbalanced brackets: no '{close}'");
            if (Peek(close))
            {
                _at++;
                return ([.. args], [.. keywords], trailingComma);
            }
            if (KeywordName() is { } keyword) keywords.Add((keyword, Expression()));
            else args.Add(Expression());
            Skip();
            trailingComma = Peek(',');
            if (trailingComma) _at++;
            else if (!Peek(close)) throw new FormatException(_at >= _text.Length ? $"unbalanced brackets: no '{close}'" : "unsupported expression");
        }
    }

    /// <summary>"name=" (not "name=="): the name, the parser past the '='; else null, the parser where it was.</summary>
    private string? KeywordName()
    {
        if (!(char.IsLetter(_text[_at]) || _text[_at] == '_')) return null;
        var save = _at;
        var id = Identifier();
        Skip();
        if (Peek('=') && !(_at + 1 < _text.Length && _text[_at + 1] == '='))
        {
            _at++;
            return id;
        }
        _at = save;
        return null;
    }

    private string Identifier()
    {
        var start = _at;
        while (_at < _text.Length && (char.IsLetterOrDigit(_text[_at]) || _text[_at] == '_')) _at++;
        if (_at == start) throw new FormatException(_at >= _text.Length ? "expression cut short" : $"unsupported expression: '{_text[_at]}'");
        return _text[start.._at];
    }

    private Const Number()
    {
        var start = _at;
        while (_at < _text.Length && (char.IsDigit(_text[_at]) || _text[_at] is '.' or 'e' or 'E' ||
            (_text[_at] is '-' or '+' && _text[_at - 1] is 'e' or 'E'))) _at++;
        var s = _text[start.._at];
        if (s.Contains('.') || s.Contains('e') || s.Contains('E'))
        {
            return double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? new Const(d) : throw new FormatException($"unsupported number {s}");
        }
        return long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var l) ? new Const(l) : throw new FormatException($"unsupported number {s}");
    }

    private string StringLiteral()
    {
        var text = new StringBuilder();
        _at++;
        while (_at < _text.Length && _text[_at] != '"')
        {
            if (_text[_at] == '\\' && _at + 1 < _text.Length) _at++;
            text.Append(_text[_at++]);
        }
        if (_at >= _text.Length) throw new FormatException("string cut short");
        _at++;
        return text.ToString();
    }

    private bool Peek(char c) => _at < _text.Length && _text[_at] == c;

    private void Skip()
    {
        while (_at < _text.Length && _text[_at] == ' ') _at++;
    }
}
