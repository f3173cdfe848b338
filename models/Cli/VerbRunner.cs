using System.CommandLine;
using System.Globalization;
using System.CommandLine.Invocation;

namespace Telemetry.Models.Cli;

/// <summary>
/// How every command line of the solution (models, ingest, bench) parses and runs its verbs on System.CommandLine, so
/// that they behave alike: <c>--help</c> lists a verb's options with their defaults; a bad command line prints the
/// errors, the names it probably meant and the verb's help on standard error and exits with <see cref="UsageError"/>;
/// standard output carries results only, for scripts to read.
/// </summary>
public static class VerbRunner
{
    /// <summary>The exit code of a bad command line, as the verbs had before System.CommandLine (its own is 1).</summary>
    public const int UsageError = 2;

    /// <summary>No response files: a value that starts with '@' (a password, a secret) is that value, not a file to read.</summary>
    public static ParserConfiguration Parser { get; } = new() { ResponseFileTokenReplacer = null };

    /// <summary>
    /// Parses a verb's command line where an option given twice takes its last value, as the verbs' own parsers did
    /// and as scripts rely on (a base command line, then an override: <c>--prefix load … --prefix probe</c>);
    /// System.CommandLine would refuse it.
    /// </summary>
    public static ParseResult Parse(Command root, IReadOnlyList<string> args)
    {
        var verb = args.Count > 0 ? root.Subcommands.FirstOrDefault(c => c.Name == args[0]) : null;
        if (verb is null)
        {
            return root.Parse(args, Parser);
        }

        var single = verb.Options.Where(o => o.Arity.MaximumNumberOfValues == 1)
            .SelectMany(o => o.Aliases.Prepend(o.Name).Select(name => (Name: name, Option: o)))
            .ToDictionary(n => n.Name, n => n.Option, StringComparer.Ordinal);
        var given = new List<(Option Option, int Start, int Count)>();
        for (var i = 1; i < args.Count; i++)
        {
            var name = args[i].Split('=', 2)[0];
            if (single.TryGetValue(name, out var option))
            {
                var count = option.Arity.MinimumNumberOfValues == 1 && name.Length == args[i].Length && i + 1 < args.Count ? 2 : 1;
                given.Add((option, i, count));
                i += count - 1;
            }
        }

        var dropped = given.GroupBy(g => g.Option).SelectMany(g => g.SkipLast(1)).SelectMany(g => Enumerable.Range(g.Start, g.Count)).ToHashSet();
        return root.Parse([.. args.Where((_, i) => !dropped.Contains(i))], Parser);
    }

    public static async Task<int> InvokeAsync(ParseResult result, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        if (result.Action is not ParseErrorAction)
        {
            return await result.InvokeAsync(Invocation(false, output, error), cancellationToken);
        }

        using var report = new StringWriter(CultureInfo.InvariantCulture);
        var hidden = Failed(result, report);
        await result.InvokeAsync(Invocation(true, report, report), cancellationToken);
        await error.WriteAsync(Redact(report.ToString(), hidden));
        return UsageError;
    }

    /// <summary>The same for verbs whose work is synchronous, so their callers need not block on a task.</summary>
    public static int Invoke(ParseResult result, TextWriter output, TextWriter error)
    {
        if (result.Action is not ParseErrorAction)
        {
            return result.Invoke(Invocation(false, output, error));
        }

        using var report = new StringWriter(CultureInfo.InvariantCulture);
        var hidden = Failed(result, report);
        result.Invoke(Invocation(true, report, report));
        error.Write(Redact(report.ToString(), hidden));
        return UsageError;
    }

    /// <summary>
    /// An argument that takes any number of values swallows a mistyped option as one of them; this makes such a token
    /// an error that names the options it resembles, as System.CommandLine does for the tokens nothing took.
    /// </summary>
    public static void RejectOptionLikeValues(Argument argument, Command command) =>
        argument.Validators.Add(result =>
        {
            foreach (var token in result.Tokens.Where(t => t.Value.StartsWith('-')))
            {
                result.AddError(UnknownOption(token.Value, command));
            }
        });

    /// <summary>"Unrecognized option '--mosquito'. Did you mean --mosquitto?", or the list of options when none is close.</summary>
    public static string UnknownOption(string token, Command command)
    {
        var names = command.Options.Where(o => !o.Hidden).SelectMany(o => o.Aliases.Prepend(o.Name)).Where(n => n.StartsWith("--", StringComparison.Ordinal)).ToList();
        var name = token.Split('=', 2)[0].ToUpperInvariant();
        // An option cut short (--resend for --resend-after) is as likely as one misspelt, and far by edit distance.
        var close = names
            .Select(n => (Name: n, Distance: n.ToUpperInvariant().StartsWith(name, StringComparison.Ordinal) ? 0 : Distance(name, n.ToUpperInvariant())))
            .Where(c => c.Distance <= Math.Max(2, c.Name.Length / 3))
            .OrderBy(c => c.Distance)
            .Select(c => c.Name)
            .Take(3)
            .ToList();
        var shown = token.Split('=', 2)[0];
        return close.Count > 0
            ? $"Unrecognized option '{shown}'. Did you mean {string.Join(" or ", close)}?"
            : $"Unrecognized option '{shown}'. The options of '{command.Name}' are {string.Join(", ", names)}.";
    }

    /// <summary>Rejects zero and negative values (counts, seeds, sizes) while parsing, naming the option.</summary>
    public static Option<T> Positive<T>(this Option<T> option)
        where T : struct, IComparable<T>
    {
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<T>().CompareTo(default) <= 0)
            {
                result.AddError($"{option.Name} must be a positive number (was '{string.Join(' ', result.Tokens.Select(t => t.Value))}').");
            }
        });
        return option;
    }

    /// <summary>
    /// For a command line that failed to parse: names the options its unknown ones probably meant, in place of
    /// System.CommandLine's suggestions, which miss an option cut short; and returns the values the report must not
    /// show. A mistyped option's value is probably a secret as often as not (<c>--api-kye KEY</c>, <c>--passwrd=…</c>):
    /// the value after an unknown option, and whatever follows '=' in one, are hidden.
    /// </summary>
    private static List<(string Token, string Shown)> Failed(ParseResult result, TextWriter error)
    {
        ((ParseErrorAction)result.Action!).ShowTypoCorrections = false;
        var unmatched = result.UnmatchedTokens.ToHashSet(StringComparer.Ordinal);
        var hidden = new List<(string Token, string Shown)>();
        var tokens = result.Tokens;
        for (var i = 0; i < tokens.Count; i++)
        {
            var token = tokens[i].Value;
            if (!token.StartsWith('-') || !unmatched.Contains(token))
            {
                continue;
            }

            var equals = token.IndexOf('=', StringComparison.Ordinal);
            if (equals >= 0 && equals < token.Length - 1)
            {
                hidden.Add((token, $"{token[..equals]}=(value hidden)"));
            }
            else if (i + 1 < tokens.Count && !tokens[i + 1].Value.StartsWith('-') && unmatched.Contains(tokens[i + 1].Value))
            {
                hidden.Add((tokens[i + 1].Value, "(value hidden)"));
            }

            error.WriteLine(UnknownOption(token, result.CommandResult.Command));
        }

        return hidden;
    }

    private static string Redact(string report, List<(string Token, string Shown)> hidden)
    {
        foreach (var (token, shown) in hidden.OrderByDescending(h => h.Token.Length))
        {
            // System.CommandLine quotes the tokens it names; a short value may also be part of a word of the help.
            report = report.Replace($"'{token}'", $"'{shown}'", StringComparison.Ordinal);
        }

        return report;
    }

    private static InvocationConfiguration Invocation(bool failed, TextWriter output, TextWriter error) => new()
    {
        // A parse error's help goes with the error, so a script reading standard output never takes it for a result.
        Output = failed ? error : output,
        Error = error,
        // Ctrl+C and SIGTERM stay with the verb (the service's host stops in order, the load tool reports what it
        // has); System.CommandLine's handler would end the process 2 s after the signal whatever the verb was doing.
        ProcessTerminationTimeout = null,
        // An unexpected exception ends the process with its stack trace, as before, not as exit code 1 and a message.
        EnableDefaultExceptionHandler = false,
    };

    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}
