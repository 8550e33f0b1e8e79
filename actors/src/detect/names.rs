//! Class names: from the model's metadata (`names`, as Ultralytics exports write it) or a file.

/// Parses a names table. Accepts the Python-dict form Ultralytics writes into ONNX metadata,
/// `{0: 'person', 1: 'bicycle'}`, and a JSON list `["person", "bicycle"]`. Returns `None` for
/// anything else, or for a dict whose keys are not exactly 0..n.
pub fn parse_metadata(text: &str) -> Option<Vec<String>> {
    let text = text.trim();
    if text.starts_with('[') {
        return serde_json::from_str(text).ok();
    }
    let body = text.strip_prefix('{')?.strip_suffix('}')?;
    let mut names = Vec::new();
    let mut rest = body.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once(':')?;
        let index: usize = key.trim().parse().ok()?;
        if index != names.len() {
            return None;
        }
        let (name, after) = quoted(after.trim_start())?;
        names.push(name);
        rest = after.trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    (!names.is_empty()).then_some(names)
}

/// Splits a leading single- or double-quoted string (with backslash escapes) off `s`.
fn quoted(s: &str) -> Option<(String, &str)> {
    let mut chars = s.char_indices();
    let (_, quote) = chars.next().filter(|(_, c)| *c == '\'' || *c == '"')?;
    let mut out = String::new();
    let mut escaped = false;
    for (i, c) in chars {
        match c {
            _ if escaped => {
                out.push(c);
                escaped = false;
            }
            '\\' => escaped = true,
            c if c == quote => return Some((out, &s[i + c.len_utf8()..])),
            c => out.push(c),
        }
    }
    None
}

/// The name of class `class_id`, or `class<N>` for a model with fewer names than classes.
pub fn class_name(names: &[String], class_id: usize) -> String {
    names
        .get(class_id)
        .cloned()
        .unwrap_or_else(|| format!("class{class_id}"))
}

/// A names file: one class per line, blank lines ignored (darknet's `coco.names`).
pub fn parse_file(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ultralytics_dict() {
        let names = parse_metadata("{0: 'person', 1: \"traffic light\", 2: 'it\\'s'}").expect("parsed");
        assert_eq!(names, vec!["person", "traffic light", "it's"]);
    }

    #[test]
    fn json_list() {
        assert_eq!(
            parse_metadata(r#"["a", "b"]"#),
            Some(vec!["a".to_string(), "b".to_string()])
        );
    }

    #[test]
    fn rejects_gaps_and_garbage() {
        assert_eq!(parse_metadata("{0: 'a', 2: 'b'}"), None);
        assert_eq!(parse_metadata("{0: a}"), None);
        assert_eq!(parse_metadata("person"), None);
        assert_eq!(parse_metadata("{}"), None);
        assert_eq!(parse_metadata("{0: 'unterminated}"), None);
    }

    #[test]
    fn names_file_skips_blank_lines() {
        assert_eq!(parse_file("person\n\n bicycle \r\n"), vec!["person", "bicycle"]);
    }
}
