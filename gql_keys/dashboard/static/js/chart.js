// The usage chart: allowed and denied requests per bucket, drawn by uPlot (loaded on demand,
// so the first page load does not carry it).
import { html, useEffect, useRef } from "./lib.js";

const ALLOWED = "#1a7f37";
const DENIED = "#cf222e";

export function UsageChart({ buckets, caption }) {
  const box = useRef(null);
  useEffect(() => {
    let plot = null;
    let cancelled = false;
    import("../vendor/uplot/uPlot.esm.js").then(({ default: uPlot }) => {
      if (cancelled || !box.current) return;
      const xs = buckets.map((b) => new Date(b.start).getTime() / 1000);
      const bars = (align) => uPlot.paths.bars({ size: [0.4, 24], align });
      plot = new uPlot({
        width: Math.max(320, box.current.clientWidth),
        height: 220,
        scales: { x: { time: true } },
        legend: { show: true },
        cursor: { drag: { x: false, y: false } },
        series: [
          {},
          { label: "Allowed", stroke: ALLOWED, fill: `${ALLOWED}99`, paths: bars(-1), points: { show: false } },
          { label: "Denied", stroke: DENIED, fill: `${DENIED}99`, paths: bars(1), points: { show: false } },
        ],
        axes: [{}, { label: "Requests", size: 56 }],
      }, [xs, buckets.map((b) => b.allowed), buckets.map((b) => b.denied)], box.current);
    });
    return () => {
      cancelled = true;
      plot?.destroy();
    };
  }, [buckets]);
  return html`<figure class="chart">
    <div ref=${box} class="chart-box" aria-hidden="true"></div>
    <figcaption>${caption}</figcaption>
  </figure>`;
}
