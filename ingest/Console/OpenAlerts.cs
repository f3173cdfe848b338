using Telemetry.Grains.Alerts;

namespace Telemetry.Ingest.Console;

/// <summary>How the alert queue reads a state's alerts from the alert index.</summary>
internal static class OpenAlerts
{
    public const int PageSize = 1000;

    /// <summary>
    /// Every alert the index holds in one state, page by page up to the total the index reports. The index pages newest
    /// first, so one page would drop the oldest alerts of a busy state, the ones most overdue. Stops at an empty page
    /// too, should alerts leave the state while it reads.
    /// </summary>
    /// <param name="query">The index's query for the state: offset and limit to a page.</param>
    /// <param name="pageSize">Alerts asked for at a time.</param>
    public static async Task<List<AlertSummary>> AllAsync(Func<int, int, Task<AlertPage>> query, int pageSize = PageSize)
    {
        var alerts = new List<AlertSummary>();
        while (true)
        {
            var page = await query(alerts.Count, pageSize);
            alerts.AddRange(page.Items);
            if (page.Items.Length == 0 || alerts.Count >= page.Total)
            {
                return alerts;
            }
        }
    }
}
