//! The README's tables are the ones the code generates.

fn readme_section(start: &str, end: &str) -> String {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let from = text.find(start).unwrap() + start.len();
    let to = text.find(end).unwrap();
    text[from..to].trim_start_matches('\n').to_string()
}

#[test]
fn the_readme_configuration_table_matches_the_settings_in_code() {
    assert_eq!(
        readme_section("<!-- config:start -->", "<!-- config:end -->"),
        tessera::config::settings_markdown(),
        "regenerate with `tessera docs config`"
    );
}

#[test]
fn the_readme_reason_catalogue_matches_the_table_in_code() {
    assert_eq!(
        readme_section("<!-- reasons:start -->", "<!-- reasons:end -->"),
        tessera::reasons::reasons_markdown(),
        "regenerate with `tessera docs reasons`"
    );
}
