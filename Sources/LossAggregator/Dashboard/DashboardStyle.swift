/// The dashboard's stylesheet: one inline `<style>` for the page and its SVG charts, in a light
/// and a dark theme chosen by the reader's `prefers-color-scheme`. Nothing is fetched: the page
/// works on a machine without network access and in a file attached to an experiment log.
enum DashboardStyle {
    /// The CSS text. It holds no `<` or `&`, so the page stays well-formed XML.
    static let css = """
        :root { color-scheme: light dark;
          --bg: #f6f7f9; --panel: #ffffff; --fg: #1c2230; --muted: #5d6677; --grid: #e4e7ec; --frame: #b9c0cc;
          --c-mean: #8a93a3; --c-ema: #1f6feb; --c-window: #d9480f; --c-classification: #8250df;
          --c-localization: #1a7f37; --c-errors: #cf222e; --c-lost: #b08800; }
        @media (prefers-color-scheme: dark) { :root {
          --bg: #0d1117; --panel: #161b22; --fg: #e6edf3; --muted: #8d96a0; --grid: #262c36; --frame: #3d444d;
          --c-mean: #8d96a0; --c-ema: #58a6ff; --c-window: #ffa657; --c-classification: #d2a8ff;
          --c-localization: #56d364; --c-errors: #ff7b72; --c-lost: #e3b341; } }
        * { box-sizing: border-box; }
        body { margin: 0; padding: 16px 20px 32px; background: var(--bg); color: var(--fg);
          font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
        header.page { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 18px; margin-bottom: 12px; }
        header.page h1 { font-size: 20px; margin: 0; }
        header.page .meta { color: var(--muted); font-size: 13px; }
        section.panel { background: var(--panel); border: 1px solid var(--grid); border-radius: 8px;
          padding: 12px 14px 6px; margin-bottom: 16px; }
        section.panel h2 { font-size: 17px; margin: 0 0 6px; overflow-wrap: anywhere; }
        section.panel h2 .split { color: var(--muted); font-weight: 500; }
        dl.figures { display: flex; flex-wrap: wrap; gap: 2px 22px; margin: 0 0 6px; }
        dl.figures div { display: flex; flex-direction: column; min-width: 70px; }
        dl.figures dt { color: var(--muted); font-size: 12px; }
        dl.figures dd { margin: 0; font-variant-numeric: tabular-nums; font-weight: 600; }
        dl.figures .main dd { font-size: 20px; color: var(--c-ema); }
        dl.figures .bad dd { color: var(--c-errors); }
        .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(360px, 1fr)); gap: 6px 14px; }
        svg.chart { width: 100%; height: auto; display: block; font-size: 11px; }
        svg.chart text { fill: var(--muted); }
        svg.chart .chart-title { fill: var(--fg); font-size: 13px; font-weight: 600; }
        svg.chart .legend-label { fill: var(--fg); }
        svg.chart .grid { stroke: var(--grid); stroke-width: 1; }
        svg.chart .tick-mark { stroke: var(--frame); }
        svg.chart .frame { fill: none; stroke: var(--frame); stroke-width: 1; }
        svg.chart .line { fill: none; stroke-width: 1.6; stroke-linejoin: round; stroke-linecap: round; }
        svg.chart .s-bold { stroke-width: 2.4; }
        svg.chart .s-thin { stroke-width: 1.2; }
        svg.chart .s-dashed { stroke-dasharray: 5 3; stroke-width: 1.5; }
        svg.chart .s-steps { stroke-width: 1.8; }
        svg.chart .band { stroke: none; opacity: 0.2; }
        @media (prefers-color-scheme: dark) { svg.chart .band { opacity: 0.3; } }
        svg.chart .empty { fill: var(--muted); font-size: 13px; }
        .c-mean { stroke: var(--c-mean); fill: var(--c-mean); }
        .c-ema { stroke: var(--c-ema); fill: var(--c-ema); }
        .c-window { stroke: var(--c-window); fill: var(--c-window); }
        .c-classification { stroke: var(--c-classification); fill: var(--c-classification); }
        .c-localization { stroke: var(--c-localization); fill: var(--c-localization); }
        .c-errors { stroke: var(--c-errors); fill: var(--c-errors); }
        .c-lost { stroke: var(--c-lost); fill: var(--c-lost); }
        svg.chart path.line, svg.chart line.line { fill: none; }
        div.classes h3 { font-size: 13px; margin: 8px 0 4px; }
        div.classes h3 .meta { color: var(--muted); font-weight: 400; }
        div.classes table { border-collapse: collapse; font-size: 12px; font-variant-numeric: tabular-nums; }
        div.classes th { color: var(--muted); font-weight: 500; text-align: right; padding: 1px 8px; }
        div.classes td { text-align: right; padding: 1px 8px; border-top: 1px solid var(--grid); }
        div.classes .bar { width: 220px; text-align: left; }
        div.classes td.bar span { display: inline-block; height: 10px; background: var(--c-classification); }
        p.empty { color: var(--muted); font-size: 15px; }
        footer { color: var(--muted); font-size: 12px; margin-top: 8px; }
        footer a { color: var(--c-ema); }
        """
}
