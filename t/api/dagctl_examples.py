# The three Python patterns of dagctl-api-examples.txt, unchanged but for
# API_BASE, which points at the dagy under test. Run by compat.t with
# Debian's python3-requests; prints what each returns as JSON.
import json
import os
import sys
import requests
from datetime import datetime, timedelta, timezone
API_BASE = os.environ["DAGY_BASE"] + "/api/v1"
HEADERS = {
    "Authorization": f"Bearer {os.environ['DAGCTL_TOKEN']}",
    "X-Organization-ID": os.environ["ORG_ID"],
}
OVERLAP = timedelta(seconds=60)
def fetch_runs_since(project_id: str, since: datetime) -> list:
    """Fetch all job runs updated after the given timestamp."""
    cursor = since - OVERLAP
    runs = []
    page = 1
    while True:
        resp = requests.get(
            f"{API_BASE}/projects/{project_id}/runs",
            headers=HEADERS,
            params={
                "updated_after": cursor.isoformat(),
                "include_stats": "false",
                "limit": 500,
                "page": page,
            },
        )
        resp.raise_for_status()
        data = resp.json()
        runs.extend(data["runs"])
        if page >= data["total_pages"]:
            break
        page += 1
    seen = set()
    return [r for r in runs if r["id"] not in seen and not seen.add(r["id"])]
def fetch_model_executions_since(project_id: str, since: datetime) -> list:
    """Fetch all model executions updated after the given timestamp."""
    cursor = since - OVERLAP
    executions = []
    page = 1
    while True:
        resp = requests.get(
            f"{API_BASE}/projects/{project_id}/model-executions",
            headers=HEADERS,
            params={
                "updated_after": cursor.isoformat(),
                "limit": 500,
                "page": page,
            },
        )
        resp.raise_for_status()
        data = resp.json()
        executions.extend(data["executions"])
        if page >= data["total_pages"]:
            break
        page += 1
    seen = set()
    return [e for e in executions if e["id"] not in seen and not seen.add(e["id"])]
def check_sla_breaches(project_id: str, threshold_seconds: float, days: int = 7) -> list:
    """Return days where p95 duration exceeded the SLA threshold."""
    resp = requests.get(
        f"{API_BASE}/projects/{project_id}/runs/daily-stats",
        headers=HEADERS,
        params={"days": days},
    )
    resp.raise_for_status()
    breaches = []
    for day in resp.json()["daily_stats"]:
        p95 = day.get("p95_duration_seconds")
        if p95 is not None and p95 > threshold_seconds:
            breaches.append({
                "date": day["date"],
                "p95_duration": p95,
                "max_duration": day.get("max_duration_seconds"),
                "total_runs": day["total_runs"],
            })
    return breaches
def compare_model_performance(
    project_id: str,
    current_start: str,
    current_end: str,
    previous_start: str,
    previous_end: str,
) -> list:
    """Compare model p95 durations between two date ranges."""
    def get_stats(start_date, end_date):
        resp = requests.get(
            f"{API_BASE}/projects/{project_id}/model-executions/stats",
            headers=HEADERS,
            params={"start_date": start_date, "end_date": end_date},
        )
        resp.raise_for_status()
        return {s["model_name"]: s for s in resp.json()["stats"]}
    current = get_stats(current_start, current_end)
    previous = get_stats(previous_start, previous_end)
    regressions = []
    for model, curr in current.items():
        prev = previous.get(model)
        if prev and curr.get("p95_duration_seconds") and prev.get("p95_duration_seconds"):
            change = (curr["p95_duration_seconds"] - prev["p95_duration_seconds"]) / prev["p95_duration_seconds"]
            if change > 0.2:
                regressions.append({
                    "model": model,
                    "current_p95": curr["p95_duration_seconds"],
                    "previous_p95": prev["p95_duration_seconds"],
                    "change_pct": round(change * 100, 1),
                })
    return sorted(regressions, key=lambda r: r["change_pct"], reverse=True)

if __name__ == "__main__":
    what, project = sys.argv[1], sys.argv[2]
    if what == "runs":
        since = datetime.now(timezone.utc) - timedelta(seconds=int(sys.argv[3]))
        print(json.dumps(sorted(r["id"] for r in fetch_runs_since(project, since))))
    elif what == "executions":
        since = datetime.now(timezone.utc) - timedelta(seconds=int(sys.argv[3]))
        print(json.dumps(sorted(e["id"] for e in fetch_model_executions_since(project, since))))
    elif what == "sla":
        print(json.dumps(check_sla_breaches(project, float(sys.argv[3]), int(sys.argv[4]))))
    else:
        print(json.dumps(compare_model_performance(project, *sys.argv[3:7])))
