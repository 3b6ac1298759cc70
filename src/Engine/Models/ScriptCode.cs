using System.Globalization;
using System.IO.Compression;
using System.Text;

namespace ExplainCluster.Engine.Models;

/// <summary>
/// The module classes of a TorchScript archive as <c>torch.jit.save</c> writes them: <c>code/__torch__/….py</c>
/// holds each class's header (submodule types, <c>Final</c> constants) and its methods as straight-line Python,
/// and <c>data.pkl</c> names the root class. Only what <see cref="ModuleProgram"/> interprets is parsed: a method
/// with control flow or any other statement is kept as unsupported, with the reason.
/// </summary>
internal sealed class ScriptCode
{
    private ScriptCode(string root, Dictionary<string, ScriptClass> classes)
    {
        Root = root;
        Classes = classes;
    }

    /// <summary>The root module's class, e.g. <c>__torch__.torch.nn.modules.container.___torch_mangle_8.Sequential</c>.</summary>
    public string Root { get; }

    public IReadOnlyDictionary<string, ScriptClass> Classes { get; }

    public static ScriptCode Read(string path)
    {
        using var zip = ZipFile.OpenRead(path);
        var classes = new Dictionary<string, ScriptClass>(StringComparer.Ordinal);
        string? root = null;
        foreach (var entry in zip.Entries)
        {
            var name = entry.FullName;
            var code = name.IndexOf("/code/__torch__", StringComparison.Ordinal);
            if (code >= 0 && name.EndsWith(".py", StringComparison.Ordinal))
            {
                // archive/code/__torch__/torch/nn/modules/conv/___torch_mangle_1.py → __torch__.torch.nn.modules.conv.___torch_mangle_1
                var module = name[(code + "/code/".Length)..^".py".Length].Replace('/', '.');
                using var reader = new StreamReader(entry.Open(), Encoding.UTF8);
                foreach (var c in ParseFile(module, reader.ReadToEnd())) classes[c.Name] = c;
            }
            else if (name.EndsWith("/data.pkl", StringComparison.Ordinal) && name.Count(ch => ch == '/') == 1)
            {
                using var stream = entry.Open();
                root = RootClass(stream);
            }
        }
        if (root is null) throw new FormatException("no data.pkl naming the root class");
        return new ScriptCode(root, classes);
    }

    /// <summary>The first GLOBAL of the pickle: <c>c&lt;module&gt;\n&lt;name&gt;\n</c> after the protocol header.</summary>
    private static string RootClass(Stream stream)
    {
        var head = new byte[512];
        var read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        var text = Encoding.Latin1.GetString(head, 0, read);
        var at = text.IndexOf("c__torch__", StringComparison.Ordinal);
        if (at < 0) throw new FormatException("data.pkl does not start with a __torch__ class");
        var parts = text[(at + 1)..].Split('\n', 3);
        if (parts.Length < 3) throw new FormatException("data.pkl's root class is cut short");
        return parts[0] + "." + parts[1];
    }

    private static IEnumerable<ScriptClass> ParseFile(string module, string text)
    {
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length;)
        {
            if (!lines[i].StartsWith("class ", StringComparison.Ordinal))
            {
                i++;
                continue;
            }
            var header = lines[i];
            var end = i + 1;
            while (end < lines.Length && (lines[end].StartsWith(' ') || lines[end].Length == 0)) end++;
            var open = header.IndexOf('(');
            var isModule = header.EndsWith("(Module):", StringComparison.Ordinal);
            if (isModule) yield return ParseClass(module + "." + header[6..open].Trim(), lines[(i + 1)..end]);
            i = end;
        }
    }

    private static ScriptClass ParseClass(string name, string[] lines)
    {
        var attributes = new List<(string Name, string Type)>();
        var finals = new Dictionary<string, object?>(StringComparer.Ordinal);
        var methods = new Dictionary<string, ScriptMethod>(StringComparer.Ordinal);
        for (var i = 0; i < lines.Length;)
        {
            var line = lines[i];
            if (line.StartsWith("  def ", StringComparison.Ordinal))
            {
                var (method, next) = ParseMethod(lines, i);
                methods[method.Name] = method;
                i = next;
                continue;
            }
            i++;
            if (line.Length < 3 || line[2] == ' ') continue;
            var body = line.Trim();
            if (body.StartsWith("__annotations__[\"", StringComparison.Ordinal))
            {
                // __annotations__["0"] = __torch__.torch.nn.modules.conv.Conv2d
                var close = body.IndexOf("\"]", StringComparison.Ordinal);
                var eq = body.IndexOf('=', close);
                attributes.Add((body[17..close], body[(eq + 1)..].Trim()));
                continue;
            }
            var colon = body.IndexOf(" : ", StringComparison.Ordinal);
            if (colon < 0) continue;
            var attribute = body[..colon];
            var type = body[(colon + 3)..];
            var assign = type.IndexOf(" = ", StringComparison.Ordinal);
            if (type.StartsWith("Final[", StringComparison.Ordinal) && assign > 0)
            {
                try { finals[attribute] = Literal(ExpressionParser.Parse(type[(assign + 3)..])); }
                catch (FormatException) { finals[attribute] = null; }
            }
            else attributes.Add((attribute, type));
        }
        return new ScriptClass(name, name[(name.LastIndexOf('.') + 1)..], attributes, finals, methods);
    }

    /// <summary>A constant expression's value: numbers, strings, bools, None, tuples and lists of them.</summary>
    internal static object? Literal(Expr e) => e switch
    {
        Const c => c.Value,
        ListExpr l => l.Items.Select(Literal).ToArray(),
        _ => throw new FormatException("not a constant"),
    };

    private static (ScriptMethod Method, int Next) ParseMethod(string[] lines, int at)
    {
        // "  def forward(self: T,\n    x: Tensor) -> Tensor:" — the signature may span lines.
        var signature = new StringBuilder(lines[at].Trim());
        var i = at + 1;
        while (!signature.ToString().EndsWith(':') && i < lines.Length) signature.Append(' ').Append(lines[i++].Trim());
        var text = signature.ToString();
        var name = text[4..text.IndexOf('(')];
        var parameters = SplitTopLevel(text[(text.IndexOf('(') + 1)..ClosingParen(text, text.IndexOf('('))])
            .Select(p => p.Split(':', '=')[0].Trim()).Where(p => p.Length > 0).ToArray();
        var body = new List<string>();
        while (i < lines.Length && (lines[i].StartsWith("    ", StringComparison.Ordinal) || lines[i].Trim().Length == 0))
        {
            if (lines[i].Trim().Length > 0) body.Add(lines[i]);
            i++;
        }
        var statements = new List<Statement>();
        string? unsupported = null;
        foreach (var line in body)
        {
            try
            {
                statements.Add(ParseStatement(line));
            }
            catch (FormatException e)
            {
                unsupported = $"{e.Message}: \"{line.Trim()}\"";
                break;
            }
        }
        return (new ScriptMethod(name, parameters, statements, unsupported), i);
    }

    private static readonly string[] Keywords = ["if ", "else", "elif ", "for ", "while ", "with ", "try", "except", "raise ", "assert ", "pass", "break", "continue", "del "];

    private static Statement ParseStatement(string line)
    {
        if (line.Length > 4 && line[4] == ' ') throw new FormatException("control flow");
        var text = line.Trim();
        if (Keywords.Any(k => text.StartsWith(k, StringComparison.Ordinal))) throw new FormatException("control flow");
        if (text.StartsWith("return ", StringComparison.Ordinal)) return new Statement(null, ExpressionParser.Parse(text[7..]));
        var eq = AssignmentAt(text);
        if (eq < 0) return new Statement(null, ExpressionParser.Parse(text), IsReturn: false);
        var target = text[..eq].Trim();
        if (!target.All(c => char.IsLetterOrDigit(c) || c == '_')) throw new FormatException("assignment to something other than a name");
        return new Statement(target, ExpressionParser.Parse(text[(eq + 1)..]), IsReturn: false);
    }

    /// <summary>The '=' of "name = …" (not "==", not inside brackets or strings); -1 for none.</summary>
    private static int AssignmentAt(string text)
    {
        var depth = 0;
        var quoted = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '"') quoted = !quoted;
            if (quoted) continue;
            if (c is '(' or '[' or '{') depth++;
            else if (c is ')' or ']' or '}') depth--;
            else if (c == '=' && depth == 0 && (i + 1 >= text.Length || text[i + 1] != '=') && (i == 0 || "=!<>".IndexOf(text[i - 1]) < 0)) return i;
        }
        return -1;
    }

    private static int ClosingParen(string text, int open)
    {
        var depth = 0;
        for (var i = open; i < text.Length; i++)
        {
            if (text[i] is '(' or '[') depth++;
            else if (text[i] is ')' or ']' && --depth == 0) return i;
        }
        throw new FormatException("unbalanced parentheses");
    }

    private static IEnumerable<string> SplitTopLevel(string text)
    {
        var depth = 0;
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] is '(' or '[') depth++;
            else if (text[i] is ')' or ']') depth--;
            else if (text[i] == ',' && depth == 0)
            {
                yield return text[start..i];
                start = i + 1;
            }
        }
        yield return text[start..];
    }
}

/// <summary>A module class: its attributes in header order (submodules among them), Final constants and methods.</summary>
internal sealed record ScriptClass(
    string Name, string Kind, IReadOnlyList<(string Name, string Type)> Attributes,
    IReadOnlyDictionary<string, object?> Finals, IReadOnlyDictionary<string, ScriptMethod> Methods)
{
    public long[]? Pair(string final) => Finals.TryGetValue(final, out var v) ? v switch
    {
        long one => [one, one],
        object?[] { Length: 2 } two when two.All(x => x is long) => [(long)two[0]!, (long)two[1]!],
        _ => null,
    } : null;
}

/// <summary>A method's parameters (self first) and straight-line body; <see cref="Unsupported"/> says why it cannot be interpreted.</summary>
internal sealed record ScriptMethod(string Name, string[] Parameters, IReadOnlyList<Statement> Body, string? Unsupported);

/// <summary><c>target = value</c>, a bare expression (no target), or <c>return value</c>.</summary>
internal sealed record Statement(string? Target, Expr Value, bool IsReturn = true);

internal abstract record Expr;

internal sealed record Name(string Id) : Expr;

internal sealed record Attribute(Expr Target, string Name) : Expr;

internal sealed record Call(Expr Function, Expr[] Args, (string Name, Expr Value)[] Keywords) : Expr;

internal sealed record Const(object? Value) : Expr;

internal sealed record ListExpr(Expr[] Items) : Expr;

/// <summary>Recursive descent over the expressions TorchScript's printer writes: names, attributes, calls, literals, lists and tuples.</summary>
internal sealed class ExpressionParser
{
    private readonly string _text;
    private int _at;

    private ExpressionParser(string text) => _text = text;

    public static Expr Parse(string text)
    {
        var parser = new ExpressionParser(text);
        var e = parser.Expression();
        parser.Skip();
        if (parser._at != text.Length) throw new FormatException("unsupported expression");
        return e;
    }

    private Expr Expression()
    {
        Skip();
        if (Peek('-'))
        {
            _at++;
            return Primary() switch
            {
                Const { Value: long l } => new Const(-l),
                Const { Value: double d } => new Const(-d),
                _ => throw new FormatException("unsupported negation"),
            };
        }
        var e = Primary();
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
                var (args, keywords) = Arguments(')');
                e = new Call(e, args, keywords);
            }
            else return e;
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
            var (items, _) = Arguments(')');
            var tuple = _text[.._at].TrimEnd(')').TrimEnd().EndsWith(',');
            return items.Length == 1 && !tuple ? items[0] : new ListExpr(items);
        }
        if (c == '[')
        {
            _at++;
            return new ListExpr(Arguments(']').Args);
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

    private (Expr[] Args, (string, Expr)[] Keywords) Arguments(char close)
    {
        var args = new List<Expr>();
        var keywords = new List<(string, Expr)>();
        while (true)
        {
            Skip();
            if (Peek(close))
            {
                _at++;
                return ([.. args], [.. keywords]);
            }
            var save = _at;
            if (char.IsLetter(_text[_at]) || _text[_at] == '_')
            {
                var id = Identifier();
                Skip();
                if (Peek('=') && !(_at + 1 < _text.Length && _text[_at + 1] == '='))
                {
                    _at++;
                    keywords.Add((id, Expression()));
                    goto next;
                }
                _at = save;
            }
            args.Add(Expression());
        next:
            Skip();
            if (Peek(',')) _at++;
            else if (!Peek(close)) throw new FormatException("unsupported expression");
        }
    }

    private string Identifier()
    {
        var start = _at;
        while (_at < _text.Length && (char.IsLetterOrDigit(_text[_at]) || _text[_at] == '_')) _at++;
        if (_at == start) throw new FormatException("unsupported expression");
        return _text[start.._at];
    }

    private Const Number()
    {
        var start = _at;
        while (_at < _text.Length && (char.IsDigit(_text[_at]) || _text[_at] is '.' or 'e' or 'E' ||
            (_text[_at] is '-' or '+' && _text[_at - 1] is 'e' or 'E'))) _at++;
        var s = _text[start.._at];
        return s.Contains('.') || s.Contains('e') || s.Contains('E')
            ? new Const(double.Parse(s, CultureInfo.InvariantCulture))
            : new Const(long.Parse(s, CultureInfo.InvariantCulture));
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
        _at++;
        return text.ToString();
    }

    private bool Peek(char c) => _at < _text.Length && _text[_at] == c;

    private void Skip()
    {
        while (_at < _text.Length && _text[_at] == ' ') _at++;
    }
}
