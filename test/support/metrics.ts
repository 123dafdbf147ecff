/**
 * Reading Prometheus metrics the way a scraper does: `GET /metrics` on each process, one sample per line.
 * The scale tests and the benchmark use it to prove what a process did (bus messages received, sockets held)
 * from the outside, without reaching into the process.
 */

/**
 * The sum of every sample of `name` in a Prometheus text exposition (all label sets together); 0 when the
 * metric is absent. `name` must be the full sample name, e.g. `qrgate_bus_messages_received_total`.
 */
export function metricValue(exposition: string, name: string): number {
  let sum = 0;
  for (const line of exposition.split('\n')) {
    if (line.startsWith('#') || !line.startsWith(name)) continue;
    // The name is followed by a label set or directly by a space; anything else is a longer name.
    const rest = line.slice(name.length);
    if (!rest.startsWith('{') && !rest.startsWith(' ')) continue;
    const value = Number(
      rest
        .slice(rest.lastIndexOf('}') + 1)
        .trim()
        .split(/\s+/)[0],
    );
    if (!Number.isFinite(value)) throw new Error(`metric ${name}: cannot read the sample ${JSON.stringify(line)}`);
    sum += value;
  }
  return sum;
}

/** Scrape one process (`baseUrl`: its metrics listener, METRICS_PORT, without the path) and return the summed value of `name`. */
export async function scrapeMetric(baseUrl: string, name: string): Promise<number> {
  const response = await fetch(`${baseUrl}/metrics`);
  if (!response.ok) throw new Error(`GET ${baseUrl}/metrics answered ${response.status}`);
  return metricValue(await response.text(), name);
}

/** Scrape every process and return `name` per process, in the order of `baseUrls`. */
export async function scrapeMetricEach(baseUrls: readonly string[], name: string): Promise<number[]> {
  return Promise.all(baseUrls.map((url) => scrapeMetric(url, name)));
}

/** Scrape every process and return the sum of `name` over all of them. */
export async function sumMetric(baseUrls: readonly string[], name: string): Promise<number> {
  return (await scrapeMetricEach(baseUrls, name)).reduce((a, b) => a + b, 0);
}

/** The metric names the scale tests read. */
export const BUS_MESSAGES_RECEIVED = 'qrgate_bus_messages_received_total';
export const SOCKETS_CONNECTED = 'qrgate_sockets_connected';
export const TICKETS_SCANNED = 'qrgate_tickets_scanned_total';
