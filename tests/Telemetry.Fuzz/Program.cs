using SharpFuzz;
using Telemetry.Fuzz;

// Without arguments this is the afl-fuzz target (scripts/fuzz.sh): each input arrives on stdin and goes to both
// uplink decoders. The out-of-process server runs the inputs in a child process, so a hang (killed by afl-fuzz
// at its timeout) or a stack overflow costs a restart instead of ending the campaign.
// With files or folders as arguments it checks each once and prints the failure, to reproduce a finding:
//   dotnet run -c Release --project tests/Telemetry.Fuzz -- artifacts/fuzz/findings/default/crashes
// That is the plain build: the instrumented one in artifacts/fuzz/bin writes its coverage into afl-fuzz's
// shared memory and dies of an access violation without it.
if (args.Length == 0)
{
    var input = new MemoryStream();
    Fuzzer.OutOfProcess.Run(stream =>
    {
        input.SetLength(0);
        stream.CopyTo(input);
        DecoderContract.Check(input.GetBuffer().AsSpan(0, (int)input.Length));
    });
    return 0;
}

// A hang must not hang the reproduction: give up on the input after this long and say so.
var timeout = TimeSpan.FromSeconds(10);
var failures = 0;
var files = args.SelectMany<string, string>(path => Directory.Exists(path)
        ? Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
        : [path])
    // afl-fuzz leaves a README.txt in its crashes folder; the regressions folder has a .gitattributes.
    .Where(path => Path.GetFileName(path) is not ("README.txt" or ['.', ..]));
foreach (var file in files)
{
    var payload = File.ReadAllBytes(file);
    var check = Task.Run(() => DecoderContract.Check(payload));
    try
    {
        if (!check.Wait(timeout))
        {
            Console.WriteLine($"HANG {file}: still running after {timeout.TotalSeconds} s");
            return 2;
        }

        Console.WriteLine($"ok   {file}");
    }
    catch (AggregateException e) when (e.InnerExceptions is [var failure])
    {
        failures++;
        Console.WriteLine($"FAIL {file}");
        Console.WriteLine(failure);
    }
}

return failures == 0 ? 0 : 1;
