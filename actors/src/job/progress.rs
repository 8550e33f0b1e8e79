//! What a running job has done so far, for progress bars and server-sent events.

#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobProgress {
    pub frames_encoded: u64,
    pub frames_detected: u64,
    pub detections: u64,
    pub playable_segments: usize,
    pub frames_total: Option<u64>,
}
