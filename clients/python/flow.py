"""The whole flow through the Python client that openapi-python-client generates from the live
/openapi.json (scripts/api-clients.sh makes it): what a user of that client does (upload, poll,
page, stats, tracks, rules and counts, events, re-render, export, delete), typed errors included. Run by that script against a server with an api_token:

    python flow.py BASE_URL TOKEN VIDEO_FILE

Exits 0 when every step did what the spec says, 1 with the failed step's sentence otherwise.
"""

import json
import sys
import time

from sightline_client import AuthenticatedClient
from sightline_client.api.analytics import get_analytics_counts, set_rules
from sightline_client.api.export import export_detections_jsonl
from sightline_client.api.renders import create_render, get_render, list_renders
from sightline_client.api.videos import (
    delete_video,
    follow_events,
    get_stats,
    get_video,
    list_detections,
    list_tracks,
    list_videos,
    upload_video,
)
from sightline_client.models import (
    Accepted,
    AnalyticsCounts,
    LineRule,
    Point,
    RulesBody,
    RulesView,
    DetectionPage,
    ErrorBody,
    ErrorCode,
    Event,
    EventKind,
    Render,
    RenderRequest,
    Source,
    Stats,
    Status,
    TrackList,
    UploadVideoBody,
    Video,
    VideoList,
)
from sightline_client.types import UNSET, File

SETTLED = {Status.READY, Status.FAILED, Status.INTERRUPTED}


class StepFailed(Exception):
    pass


def expect(what, ok, detail=""):
    if not ok:
        raise StepFailed(f"{what}: {detail}" if detail else what)


def as_a(kind, value, what):
    expect(what, isinstance(value, kind), f"got {value!r}, not a {kind.__name__}")
    return value


def wait_until_settled(read, what, timeout=300):
    deadline = time.monotonic() + timeout
    while True:
        item = read()
        if item.status in SETTLED:
            return item
        expect(f"{what} settles within {timeout} s", time.monotonic() < deadline, f"still {item.status}")
        time.sleep(1)


def main(base, token, video_path):
    client = AuthenticatedClient(base_url=base, token=token, raise_on_unexpected_status=True)
    stranger = AuthenticatedClient(base_url=base, token="not-the-token-at-all", raise_on_unexpected_status=True)

    with open(video_path, "rb") as f:
        body = UploadVideoBody(file=File(payload=f, file_name="bikes.mp4", mime_type="video/mp4"), confidence=0.3)
        refused = as_a(ErrorBody, upload_video.sync(client=stranger, body=body), "an upload with a wrong token")
        expect("a wrong token is refused as unauthorized", refused.error == ErrorCode.UNAUTHORIZED, refused)
        f.seek(0)
        accepted = as_a(Accepted, upload_video.sync(client=client, body=body), "the upload")
    expect("an upload is queued", accepted.status == Status.QUEUED, accepted.status)
    vid = accepted.id
    print(f"  uploaded as {vid}")

    latest = as_a(Event, follow_events.sync(vid, client=client), "the latest event")
    expect("the latest event is a status", latest.kind == EventKind.STATUS, latest.kind)
    video = wait_until_settled(lambda: as_a(Video, get_video.sync(vid, client=client), "the video"), "the job")
    expect("the job ends ready", video.status == Status.READY, f"{video.status}: {video.error}")
    expect("a ready video has detections", video.detections > 0, video.detections)
    print(f"  ready: {video.frames_done} frames, {video.detections} detections")

    listed = as_a(VideoList, list_videos.sync(client=client, limit=10), "the video list")
    expect("the list has the upload", any(v.id == vid for v in listed.items), [v.id for v in listed.items])

    # Cursor paging, no class filter: every detection exactly once, as many as the stats count.
    seen, cursor, pages = set(), UNSET, 0
    while True:
        page = as_a(DetectionPage, list_detections.sync(vid, client=client, limit=200, cursor=cursor), "a page")
        pages += 1
        for d in page.items:
            expect("a box has four numbers", len(d.box) == 4, d.box)
            expect("a detection's source is known", d.source in (Source.DETECTED, Source.PREDICTED), d.source)
            seen.add((d.frame, d.class_id, tuple(d.box), d.track_id))
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    stats = as_a(Stats, get_stats.sync(vid, client=client, bin_=5), "the stats")
    expect("paging returns every detection once", len(seen) == stats.total_detections,
           f"{len(seen)} seen in {pages} pages, stats count {stats.total_detections}")
    expect("the histogram has bins of 5 s", stats.bin_seconds == 5 and len(stats.histogram) > 0, stats.bin_seconds)
    people = as_a(DetectionPage, list_detections.sync(vid, client=client, class_=["person"]), "people")
    expect("a class filter keeps that class", all(d.class_ == "person" for d in people.items), people.items[:3])
    bad = as_a(ErrorBody, list_detections.sync(vid, client=client, confidence=2.0), "an out-of-range filter")
    expect("an out-of-range confidence is a bad request", bad.error == ErrorCode.BAD_REQUEST, bad)
    print(f"  {len(seen)} detections in {pages} pages; {len(stats.classes)} classes")

    tracks, after = [], UNSET
    while True:
        page = as_a(TrackList, list_tracks.sync(vid, client=client, limit=5, after=after), "a track page")
        tracks += page.items
        if page.next_ is UNSET or page.next_ is None:
            break
        after = page.next_
    ids = [t.track_id for t in tracks]
    expect("tracks page in order, each once", ids == sorted(set(ids)) and ids, ids)
    print(f"  {len(tracks)} tracks")

    # A line across the middle, evaluated over the stored tracks.
    line = LineRule(name="middle", from_=Point(x=0.5, y=0.0), to=Point(x=0.5, y=1.0))
    rules = as_a(RulesView, set_rules.sync(vid, client=client, body=RulesBody(lines=[line])), "the rules")
    expect("rules on a ready video are evaluated at once", rules.analysed_at is not UNSET, rules)
    counts = as_a(AnalyticsCounts, get_analytics_counts.sync(vid, client=client), "the counts")
    crossed = sum(c.count for c in counts.lines[0].totals)
    expect("the counts add up to the rules' events", crossed == rules.events, f"{crossed} vs {rules.events}")
    print(f"  a line across the middle: {crossed} crossings")

    # The stream itself, read with the client's own HTTP connection and typed by its models.
    events = []
    with client.get_httpx_client().stream(
        "GET", f"/api/videos/{vid}/events", headers={"Accept": "text/event-stream"}, timeout=30
    ) as resp:
        expect("the event stream is text/event-stream", resp.headers["content-type"].startswith("text/event-stream"),
               resp.headers["content-type"])
        for line in resp.iter_lines():
            if line.startswith("data:"):
                events.append(Event.from_dict(json.loads(line[5:])))
    expect("a ready video's stream sends its status, then ends",
           len(events) == 1 and events[0].kind == EventKind.STATUS and events[0].status == Status.READY, events)

    render = as_a(Render, create_render.sync(vid, client=client, body=RenderRequest(classes=["person"], thickness=3)),
                  "a rendering")
    render = wait_until_settled(lambda: as_a(Render, get_render.sync(vid, render.number, client=client), "it"),
                                "the rendering")
    expect("the rendering ends ready", render.status == Status.READY, f"{render.status}: {render.error}")
    numbers = [r.number for r in list_renders.sync(vid, client=client)]
    expect("the renderings list it", render.number in numbers, numbers)
    print(f"  rendering {render.number} ready")

    export = export_detections_jsonl.sync(vid, client=client)
    lines = [json.loads(l) for l in export.payload.read().splitlines() if l.strip()]
    expect("the JSON Lines export has every detection", len(lines) == stats.total_detections, len(lines))

    gone = delete_video.sync_detailed(vid, client=client)
    expect("the delete answers 204", gone.status_code == 204, gone.status_code)
    missing = as_a(ErrorBody, get_video.sync(vid, client=client), "the deleted video")
    expect("a deleted video is not found", missing.error == ErrorCode.NOT_FOUND, missing)
    print("  deleted")


if __name__ == "__main__":
    try:
        main(*sys.argv[1:4])
    except StepFailed as e:
        print(f"  FAIL {e}")
        sys.exit(1)
