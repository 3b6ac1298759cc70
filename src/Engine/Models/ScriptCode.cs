using System.IO.Compression;
using System.Text;

namespace ExplainCluster.Engine.Models;

/// <summary>
/// The module classes of a TorchScript archive as <c>torch.jit.save</c> writes them: <c>code/__torch__/….py</c>
/// holds each class's header (submodule types, <c>Final</c> constants) and its methods as straight-line Python,
/// and <c>data.pkl</c> names the root class. Only what <see cref="ModuleProgram"/> interprets is parsed: a method
/// with control flow or any other statement is kept as unsupported, with the reason; a class the reader cannot
/// read at all is kept with its <see cref="ScriptClass.Problem"/>. Reading never fails for the code's sake: only
/// an archive that is not a zip, or one without a root class, is a <see cref="FormatException"/>.
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

    /// <summary>The module classes of one code file; a class whose text the reader fails on is kept with the reason.</summary>
    internal static IEnumerable<ScriptClass> ParseFile(string module, string text)
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
            if (open > 6 && header.EndsWith("(Module):", StringComparison.Ordinal))
            {
                var name = module + "." + header[6..open].Trim();
                ScriptClass cls;
                try
                {
                    cls = ParseClass(name, lines[(i + 1)..end]);
                }
                catch (Exception e) when (e is FormatException or ArgumentException or IndexOutOfRangeException or InvalidOperationException)
                {
                    // ArgumentException covers ArgumentOutOfRangeException: a reader bug on text it did not expect.
                    cls = new ScriptClass(name, [], new Dictionary<string, object?>(), new Dictionary<string, ScriptMethod>(),
                        $"code the reader cannot read ({e.GetType().Name}: {ExplainModel.FirstLine(e.Message)})");
                }
                yield return cls;
            }
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
                var eq = close < 0 ? -1 : body.IndexOf('=', close);
                if (eq < 0) throw new FormatException($"unsupported annotation \"{body}\"");
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
        return new ScriptClass(name, attributes, finals, methods);
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
        var body = new List<string>();
        while (i < lines.Length && (lines[i].StartsWith("    ", StringComparison.Ordinal) || lines[i].Trim().Length == 0))
        {
            if (lines[i].Trim().Length > 0) body.Add(lines[i]);
            i++;
        }
        var text = signature.ToString();
        var open = text.IndexOf('(');
        var name = open > 4 ? text[4..open].Trim() : text[4..].TrimEnd(':').Trim();
        string[] parameters;
        try
        {
            if (open < 0) throw new FormatException("a signature without parameters");
            parameters = [.. SplitTopLevel(text[(open + 1)..ClosingParen(text, open)]).Select(p => p.Split(':', '=')[0].Trim()).Where(p => p.Length > 0)];
        }
        catch (FormatException e)
        {
            return (new ScriptMethod(name, [], [], $"a signature the reader cannot read ({e.Message})"), i);
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
        if (text.StartsWith("return ", StringComparison.Ordinal)) return new Statement([], ExpressionParser.Parse(text[7..]), IsReturn: true);
        var eq = AssignmentAt(text);
        if (eq < 0) return new Statement([], ExpressionParser.Parse(text), IsReturn: false);
        // "x = …", or tuple unpacking "a, b = …" (the printer writes "a, b, = …")
        var targets = text[..eq].Split(',').Select(t => t.Trim()).ToList();
        if (targets.Count > 1 && targets[^1].Length == 0) targets.RemoveAt(targets.Count - 1);
        if (targets.Count == 0 || targets.Any(t => t.Length == 0 || !t.All(c => char.IsLetterOrDigit(c) || c == '_')))
            throw new FormatException("assignment to something other than names");
        return new Statement([.. targets], ExpressionParser.Parse(text[(eq + 1)..]), IsReturn: false);
    }

    /// <summary>The '=' of "name = …" (not "==", "+=" and the like, nor inside brackets or strings); -1 for none.</summary>
    private static int AssignmentAt(string text)
    {
        foreach (var (i, c, depth) in Outside(text))
        {
            if (c == '=' && depth == 0 && (i + 1 >= text.Length || text[i + 1] != '=') && (i == 0 || "=!<>+-*/%&|^@".IndexOf(text[i - 1]) < 0)) return i;
        }
        return -1;
    }

    private static int ClosingParen(string text, int open)
    {
        foreach (var (i, c, depth) in Outside(text, open))
        {
            if (c is ')' or ']' && depth == 0) return i;
        }
        throw new FormatException("unbalanced parentheses");
    }

    private static IEnumerable<string> SplitTopLevel(string text)
    {
        var start = 0;
        foreach (var (i, c, depth) in Outside(text))
        {
            if (c == ',' && depth == 0)
            {
                yield return text[start..i];
                start = i + 1;
            }
        }
        yield return text[start..];
    }

    /// <summary>
    /// The characters of <paramref name="text"/> from <paramref name="from"/> that are outside string literals
    /// (with their backslash escapes), each with the bracket depth after an opening bracket and before a closing one.
    /// </summary>
    private static IEnumerable<(int At, char Char, int Depth)> Outside(string text, int from = 0)
    {
        var depth = 0;
        var quoted = false;
        for (var i = from; i < text.Length; i++)
        {
            var c = text[i];
            if (quoted)
            {
                if (c == '\\') i++;
                else if (c == '"') quoted = false;
                continue;
            }
            if (c == '"')
            {
                quoted = true;
                continue;
            }
            if (c is ')' or ']' or '}') depth--;
            yield return (i, c, depth);
            if (c is '(' or '[' or '{') depth++;
        }
    }
}
