//! The text drawn above a box.

use crate::detect::names::class_name;

/// `person 0.87 #12`: class, confidence and, for a tracked box, its track.
pub fn label(names: &[String], class_id: u16, confidence: f32, track: Option<u64>) -> String {
    let name = class_name(names, class_id as usize);
    match track {
        Some(id) => format!("{name} {confidence:.2} #{id}"),
        None => format!("{name} {confidence:.2}"),
    }
}

#[cfg(test)]
mod tests {
    use super::label;

    #[test]
    fn labels_name_confidence_and_track() {
        let names = vec!["person".to_string()];
        assert_eq!(label(&names, 0, 0.871, Some(12)), "person 0.87 #12");
        assert_eq!(label(&names, 0, 0.5, None), "person 0.50");
        assert_eq!(label(&names, 7, 0.5, None), "class7 0.50");
    }
}
