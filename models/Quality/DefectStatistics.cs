namespace Telemetry.Models.Quality;

/// <summary>Where a batch stands against its model's baseline for one failure mode.</summary>
public enum BatchStatus
{
    Normal,

    /// <summary>Above the baseline with some evidence (one-sided p &lt; 0.05): worth watching.</summary>
    Watch,

    /// <summary>Significantly above the baseline (p &lt; 0.001) with enough exposure: act.</summary>
    Elevated,
}

/// <summary>A batch's defect rate for one failure mode, with its interval and the test against the baseline.</summary>
public sealed record DefectAssessment(
    long Devices,
    long Failures,
    double Rate,
    double CiLow,
    double CiHigh,
    double Baseline,
    double PValue,
    BatchStatus Status);

/// <summary>
/// Defect-rate statistics for quality analysts. The rate is failures per device in service; its 95% interval
/// is the Wilson score interval, which behaves at small counts and at zero failures where the normal
/// approximation does not. A batch is compared with its model's baseline, the pooled rate of the model's
/// other batches (leaving the batch out, so a bad batch cannot hide by raising its own baseline), with an
/// exact one-sided binomial test: p = P(X ≥ failures | devices, baseline). Small batches cannot reach
/// significance on a failure or two, which is the point: a flag needs both a low p and a minimum exposure.
/// </summary>
public static class DefectStatistics
{
    public const double Z95 = 1.959963984540054;

    /// <summary>Minimum exposure before a batch can be <see cref="BatchStatus.Elevated"/>.</summary>
    public const int MinDevices = 30;

    public const int MinFailures = 3;

    public const double WatchP = 0.05;

    public const double ElevatedP = 0.001;

    /// <summary>The 95% Wilson score interval of <paramref name="failures"/> in <paramref name="n"/>.</summary>
    public static (double Low, double High) Wilson(long failures, long n, double z = Z95)
    {
        if (n <= 0)
        {
            return (0, 1);
        }

        var p = (double)failures / n;
        var z2 = z * z;
        var centre = p + (z2 / (2 * n));
        var margin = z * Math.Sqrt((p * (1 - p) / n) + (z2 / (4.0 * n * n)));
        var denominator = 1 + (z2 / n);
        return (Math.Max(0, (centre - margin) / denominator), Math.Min(1, (centre + margin) / denominator));
    }

    /// <summary>P(X ≥ k) for X ~ Binomial(n, p), summed in log space so large n stays exact.</summary>
    public static double UpperTail(long k, long n, double p)
    {
        if (k <= 0)
        {
            return 1;
        }

        if (p <= 0)
        {
            return 0;
        }

        if (p >= 1)
        {
            return 1;
        }

        double sum = 0;
        var logP = Math.Log(p);
        var logQ = Math.Log(1 - p);
        for (var i = k; i <= n; i++)
        {
            var term = Math.Exp(LogChoose(n, i) + (i * logP) + ((n - i) * logQ));
            sum += term;
            if (term < sum * 1e-16 && i > n * p)
            {
                break;
            }
        }

        return Math.Min(1, sum);
    }

    public static DefectAssessment Assess(long devices, long failures, long baselineDevices, long baselineFailures)
    {
        var rate = devices > 0 ? (double)failures / devices : 0;
        var (low, high) = Wilson(failures, devices);
        // A model with no other batches (or none failing) uses half a failure as its floor, so the test has a
        // finite baseline rather than flagging every first failure.
        var baseline = baselineDevices > 0 ? Math.Max(baselineFailures, 0.5) / baselineDevices : 0;
        var p = devices > 0 && baselineDevices > 0 ? UpperTail(failures, devices, baseline) : 1;
        var status = p < ElevatedP && failures >= MinFailures && devices >= MinDevices ? BatchStatus.Elevated
            : p < WatchP && failures >= 2 ? BatchStatus.Watch
            : BatchStatus.Normal;
        return new DefectAssessment(devices, failures, rate, low, high, baseline, p, status);
    }

    private static double LogChoose(long n, long k) => LogFactorial(n) - LogFactorial(k) - LogFactorial(n - k);

    private static double LogFactorial(long n)
    {
        if (n < 2)
        {
            return 0;
        }

        if (n < 256)
        {
            double sum = 0;
            for (var i = 2; i <= n; i++)
            {
                sum += Math.Log(i);
            }

            return sum;
        }

        // Stirling's series: accurate to ~1e-10 here.
        var x = (double)n;
        return (x * Math.Log(x)) - x + (0.5 * Math.Log(2 * Math.PI * x)) + (1 / (12 * x)) - (1 / (360 * x * x * x));
    }
}
