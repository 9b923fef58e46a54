// The usage chart: allowed and denied requests per bucket, drawn by uPlot (loaded on demand,
// so the first page load does not carry it).
import { html, useEffect, useRef } from "./lib.js";

const ALLOWED = "#1a7f37";
const DENIED = "#cf222e";

const BUCKET_MS = { MINUTE: 60e3, HOUR: 3600e3, DAY: 86400e3 };

/** One point per bucket from `since` to now (the API returns only buckets with requests). */
export function denseBuckets(buckets, since, size) {
  const step = BUCKET_MS[size];
  const byStart = new Map(buckets.map((b) => [new Date(b.start).getTime(), b]));
  const last = Math.max(Date.now(), ...byStart.keys());
  const out = [];
  for (let t = Math.floor(since.getTime() / step) * step; t <= last; t += step) {
    const b = byStart.get(t);
    out.push({ t: t / 1000, allowed: b?.allowed ?? 0, denied: b?.denied ?? 0 });
  }
  return out;
}

export function UsageChart({ buckets, since, size, caption }) {
  const box = useRef(null);
  useEffect(() => {
    let plot = null;
    let cancelled = false;
    import("../vendor/uplot/uPlot.esm.js").then(({ default: uPlot }) => {
      if (cancelled || !box.current) return;
      const points = denseBuckets(buckets, since, size);
      const pad = (BUCKET_MS[size] / 1000) * 0.6; // room for the first and last bars
      const bars = (align) => uPlot.paths.bars({ size: [0.45, 24], align });
      plot = new uPlot({
        width: Math.max(320, box.current.clientWidth),
        height: 220,
        scales: { x: { time: true, range: (u, min, max) => [min - pad, max + pad] } },
        legend: { show: true },
        cursor: { drag: { x: false, y: false } },
        series: [
          {},
          { label: "Allowed", stroke: ALLOWED, fill: `${ALLOWED}99`, paths: bars(-1), points: { show: false } },
          { label: "Denied", stroke: DENIED, fill: `${DENIED}99`, paths: bars(1), points: { show: false } },
        ],
        axes: [{}, { label: "Requests", size: 56 }],
      }, [points.map((p) => p.t), points.map((p) => p.allowed), points.map((p) => p.denied)], box.current);
    });
    return () => {
      cancelled = true;
      plot?.destroy();
    };
  }, [buckets, since, size]);
  return html`<figure class="chart">
    <div ref=${box} class="chart-box" aria-hidden="true"></div>
    <figcaption>${caption}</figcaption>
  </figure>`;
}
