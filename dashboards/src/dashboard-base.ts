import {
  type Dashboard,
  DashboardBuilder,
  DashboardCursorSync,
  DashboardLinkBuilder,
  DashboardLinkType,
} from "@grafana/grafana-foundation-sdk/dashboard";

/**
 * What every tokenmeter dashboard shares: the tag that links them to each other, a 24-hour
 * default range, shared crosshair, and the dropdown of the other tokenmeter dashboards (which
 * keeps the time range and variables when switching).
 */

export const DASHBOARD_TAG = "tokenmeter";

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  tags?: string[];
  /** Default time range; "now-24h" to "now" unless set. */
  from?: string;
}

export function baseDashboard(spec: DashboardSpec): DashboardBuilder {
  return new DashboardBuilder(spec.title)
    .uid(spec.uid)
    .description(spec.description)
    .tags([DASHBOARD_TAG, ...(spec.tags ?? [])])
    .editable()
    .timezone("browser")
    .time({ from: spec.from ?? "now-24h", to: "now" })
    .refresh("1m")
    .tooltip(DashboardCursorSync.Crosshair)
    .link(
      new DashboardLinkBuilder("tokenmeter dashboards")
        .type(DashboardLinkType.Dashboards)
        .tags([DASHBOARD_TAG])
        .asDropdown(true)
        .includeVars(true)
        .keepTime(true),
    );
}

/**
 * The dashboard as Grafana stores it: panels (rows and the panels inside collapsed rows alike)
 * numbered in layout order, which links like `viewPanel=<id>` and the tests rely on, and
 * dashboard links shown in the header.
 */
export function finalizeDashboard(builder: DashboardBuilder): Dashboard {
  const built = builder.build();
  // The SDK defaults links into the controls menu (a newer Grafana placement); keep them in the header.
  for (const link of built.links ?? []) delete link.placement;
  let next = 1;
  for (const panel of built.panels ?? []) {
    panel.id = next++;
    if (panel.type === "row" && "panels" in panel) {
      for (const inner of panel.panels) inner.id = next++;
    }
  }
  return built;
}
