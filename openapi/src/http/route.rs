//! The route template a request path belongs to, as metrics labels and access log lines name it:
//! ids and file names never become values, so the set stays bounded whatever clients send.

/// `/api/videos/00000000001e8481/detections` is `/api/videos/{id}/detections`; a path the server
/// has no route for is `other`.
pub fn route_template(path: &str) -> &'static str {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        [""] => "/",
        ["api", "videos"] => "/api/videos",
        ["api", "videos", _] => "/api/videos/{id}",
        ["api", "videos", _, leaf] => match *leaf {
            "stream" => "/api/videos/{id}/stream",
            "detections" => "/api/videos/{id}/detections",
            "detections.csv" => "/api/videos/{id}/detections.csv",
            "detections.jsonl" => "/api/videos/{id}/detections.jsonl",
            "stats" => "/api/videos/{id}/stats",
            "tracks" => "/api/videos/{id}/tracks",
            "tracks.txt" => "/api/videos/{id}/tracks.txt",
            "events" => "/api/videos/{id}/events",
            "retry" => "/api/videos/{id}/retry",
            "renders" => "/api/videos/{id}/renders",
            _ => "other",
        },
        ["api", "videos", _, "renders", _] => "/api/videos/{id}/renders/{number}",
        ["api", "cluster"] => "/api/cluster",
        ["streams", _, ..] => "/streams/{id}/*",
        ["ui", _] => "/ui/{file}",
        ["docs", ..] => "/docs",
        ["openapi.json"] => "/openapi.json",
        ["metrics"] => "/metrics",
        ["healthz"] => "/healthz",
        ["readyz"] => "/readyz",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_their_templates() {
        let cases = [
            ("/", "/"),
            ("/api/videos", "/api/videos"),
            ("/api/videos/00000000001e8481", "/api/videos/{id}"),
            ("/api/videos/00000000001e8481/tracks", "/api/videos/{id}/tracks"),
            ("/api/videos/x/detections.csv", "/api/videos/{id}/detections.csv"),
            ("/api/videos/x/renders/3", "/api/videos/{id}/renders/{number}"),
            ("/streams/x/renders/1/720p/seg_00001.ts", "/streams/{id}/*"),
            ("/ui/app.js", "/ui/{file}"),
            ("/readyz", "/readyz"),
            ("/api/videos/x/whatever", "other"),
            ("/wp-admin/login.php", "other"),
        ];
        for (path, template) in cases {
            assert_eq!(route_template(path), template, "{path}");
        }
    }
}
