//! Plain-text rendering for the CLI: aligned tables (laid out by `comfy-table`) and
//! `key: value` listings.
//!
//! Everything here returns a `String` instead of printing, so output is unit-tested and the
//! caller decides where it goes. Cell text comes from the server, and some of it (audit
//! subjects, remote addresses, client names) was typed by strangers, so control characters
//! are escaped before they can reach a terminal.

use serde_json::Value;

/// Separator between two columns.
const GAP: &str = "  ";

/// Longest text shown for a nested JSON object or array element inside one cell.
const MAX_NESTED: usize = 60;

/// A table with one header row; columns are as wide as their widest cell.
#[derive(Debug, Default)]
pub struct Table {
    /// Column titles, printed as the first row.
    headers: Vec<String>,
    /// Data rows, already rendered as text (sanitized on render).
    rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these column titles (not empty: a column with no text at all
    /// would still be one space wide).
    pub fn new(headers: &[&str]) -> Self {
        Self {
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; missing cells print empty, extra cells are dropped.
    pub fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    /// The table as text: header row, then one line per row, columns separated by two
    /// spaces, no trailing whitespace, a final newline. Widths count terminal columns, so
    /// wide characters (CJK) stay aligned.
    pub fn render(&self) -> String {
        let width = self.headers.len();
        let cells = |row: &Vec<String>| -> Vec<String> {
            (0..width)
                .map(|i| row.get(i).map(|c| sanitize(c)).unwrap_or_default())
                .collect()
        };
        let mut grid = comfy_table::Table::new();
        // No borders and no line under the header: only the cells and their padding.
        grid.load_style(comfy_table::presets::NOTHING)
            .set_header(cells(&self.headers));
        for row in &self.rows {
            grid.add_row(cells(row));
        }
        for (i, column) in grid.column_iter_mut().enumerate() {
            column.set_padding((0, if i + 1 < width { GAP.len() as u16 } else { 0 }));
        }
        let mut out = String::new();
        for line in grid.lines() {
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Builds a table from JSON objects: one row per object, one column per `(title, field)`.
pub fn from_objects<'a>(
    objects: impl IntoIterator<Item = &'a Value>,
    columns: &[(&str, &str)],
) -> Table {
    let titles: Vec<&str> = columns.iter().map(|(title, _)| *title).collect();
    let mut table = Table::new(&titles);
    for object in objects {
        table.push(
            columns
                .iter()
                .map(|(_, field)| cell(object.get(*field)))
                .collect(),
        );
    }
    table
}

/// `key: value` lines with the values aligned, in the order given.
pub fn key_values(pairs: &[(String, String)]) -> String {
    let width = pairs
        .iter()
        .map(|(k, _)| sanitize(k).chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (key, value) in pairs {
        let key = sanitize(key);
        let pad = width - key.chars().count();
        let line = format!("{key}:{}{GAP}{}", " ".repeat(pad), sanitize(value));
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// One JSON value as cell text: strings bare, absent or null as `-`, arrays joined by
/// commas, nested objects as compact JSON cut to a readable length.
pub fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "-".to_owned(),
        Some(Value::String(s)) if s.is_empty() => "-".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) if items.is_empty() => "-".to_owned(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => shorten(&other.to_string()),
            })
            .collect::<Vec<_>>()
            .join(","),
        Some(Value::Object(_)) => value.map(|v| shorten(&v.to_string())).unwrap_or_default(),
        Some(other) => other.to_string(),
    }
}

/// Replaces control characters (ESC, CR, newlines, …) with visible escapes so server data
/// cannot move the cursor, rewrite earlier lines or break the table.
pub fn sanitize(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_owned();
    }
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn shorten(s: &str) -> String {
    if s.chars().count() <= MAX_NESTED {
        return s.to_owned();
    }
    let mut cut: String = s.chars().take(MAX_NESTED - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell_and_lines_have_no_trailing_spaces() {
        let mut t = Table::new(&["ID", "NAME", "STATUS"]);
        t.push(vec!["default".into(), "Default".into(), "active".into()]);
        t.push(vec![
            "acme".into(),
            "Acme Corporation".into(),
            "disabled".into(),
        ]);

        let out = t.render();

        assert_eq!(
            out,
            "ID       NAME              STATUS\n\
             default  Default           active\n\
             acme     Acme Corporation  disabled\n"
        );
    }

    #[test]
    fn an_empty_table_prints_only_its_header() {
        assert_eq!(Table::new(&["KID", "ALG"]).render(), "KID  ALG\n");
    }

    #[test]
    fn short_rows_print_empty_cells_and_long_rows_are_cut_to_the_header() {
        let mut t = Table::new(&["A", "B"]);
        t.push(vec!["x".into()]);
        t.push(vec!["1".into(), "2".into(), "3".into()]);
        assert_eq!(t.render(), "A  B\nx\n1  2\n");
    }

    #[test]
    fn multibyte_text_is_aligned_by_characters_not_bytes() {
        let mut t = Table::new(&["NAME", "X"]);
        t.push(vec!["Zürich".into(), "1".into()]);
        assert_eq!(t.render(), "NAME    X\nZürich  1\n");
    }

    #[test]
    fn wide_characters_take_two_terminal_columns() {
        let mut t = Table::new(&["NAME", "X"]);
        t.push(vec!["東京".into(), "1".into()]);
        assert_eq!(t.render(), "NAME  X\n東京  1\n");
    }

    #[test]
    fn control_characters_from_the_server_are_escaped() {
        let mut t = Table::new(&["SUBJECT"]);
        t.push(vec!["evil\u{1b}[2J\nline".into()]);
        let out = t.render();
        assert!(!out.contains('\u{1b}'));
        assert_eq!(out.lines().count(), 2);
        assert!(out.contains("evil\\u{1b}[2J\\nline"));
    }

    #[test]
    fn json_cells_show_missing_as_a_dash_and_arrays_joined_by_commas() {
        let v = json!({"s": "x", "n": 3, "b": true, "a": ["a", "b"], "e": [], "z": null});
        assert_eq!(cell(v.get("s")), "x");
        assert_eq!(cell(v.get("n")), "3");
        assert_eq!(cell(v.get("b")), "true");
        assert_eq!(cell(v.get("a")), "a,b");
        assert_eq!(cell(v.get("e")), "-");
        assert_eq!(cell(v.get("z")), "-");
        assert_eq!(cell(v.get("missing")), "-");
    }

    #[test]
    fn long_nested_objects_are_shortened_in_a_cell() {
        let v = json!({"o": {"keys": [{"n": "a".repeat(200)}]}});
        let c = cell(v.get("o"));
        assert_eq!(c.chars().count(), MAX_NESTED);
        assert!(c.ends_with('…'));
    }

    #[test]
    fn tables_from_objects_take_the_named_fields_in_column_order() {
        let items = [json!({"kid": "k1", "alg": "RS256", "extra": 1})];
        let out = from_objects(&items, &[("ALG", "alg"), ("KID", "kid")]).render();
        assert_eq!(out, "ALG    KID\nRS256  k1\n");
    }

    #[test]
    fn key_value_lines_align_their_values() {
        let out = key_values(&[
            ("client_id".into(), "abc".into()),
            ("name".into(), "Billing".into()),
        ]);
        assert_eq!(out, "client_id:  abc\nname:       Billing\n");
    }
}
