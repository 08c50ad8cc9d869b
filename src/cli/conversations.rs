//! `lull conversations APP`: the conversations an app holds right now, from
//! `GET /admin/apps/{app}/conversations` — who, on which business account, how many fragments,
//! when they are handed on, and the sender's learned typing cadence.

use std::io::Write;

use anyhow::{bail, Context};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, Deserialize)]
pub struct Conversation {
    pub account: String,
    pub conversation: String,
    pub fragments: u32,
    #[serde(default)]
    pub texts: Vec<String>,
    pub due_in_ms: u64,
    pub window_ms: u64,
    #[serde(default)]
    pub forced: bool,
    pub cadence: Option<Cadence>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Cadence {
    pub avg_gap_ms: u64,
    pub samples: u32,
}

pub async fn run(endpoint: &str, app: &str, json: bool) -> anyhow::Result<()> {
    let base = endpoint.trim_end_matches('/');
    let url = format!(
        "{base}/admin/apps/{}/conversations",
        form_urlencoded::byte_serialize(app.as_bytes()).collect::<String>()
    );
    let response = reqwest::Client::new()
        .get(&url)
        .send()
        .await
        .with_context(|| format!("cannot reach {base}"))?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .with_context(|| format!("{url}: the answer is not JSON"))?;
    if !status.is_success() {
        let reason = body["error"].as_str().unwrap_or("no reason given");
        bail!("{app}: {reason} (HTTP {})", status.as_u16());
    }
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &body["conversations"])?;
        writeln!(out)?;
        return Ok(());
    }
    let list: Vec<Conversation> = serde_json::from_value(body["conversations"].clone())
        .context("unexpected conversation listing")?;
    if list.is_empty() {
        eprintln!("no conversations buffered for {app}");
    } else {
        out.write_all(table(&list).as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

/// `1.2s`, `350ms`, `2m05s`.
fn duration(ms: u64) -> String {
    match ms {
        0..=999 => format!("{ms}ms"),
        1_000..=59_999 => format!("{:.1}s", ms as f64 / 1000.0),
        _ => format!("{}m{:02}s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

fn table(rows: &[Conversation]) -> String {
    let header = [
        "CONVERSATION",
        "ACCOUNT",
        "FRAGMENTS",
        "DUE IN",
        "WINDOW",
        "CADENCE",
        "LAST",
    ];
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|c| {
            let due = if c.due_in_ms == 0 {
                "due".to_owned()
            } else if c.forced {
                format!("{} (forced)", duration(c.due_in_ms))
            } else {
                duration(c.due_in_ms)
            };
            let cadence = match &c.cadence {
                Some(k) => format!("{} avg gap, {} samples", duration(k.avg_gap_ms), k.samples),
                None => "-".to_owned(),
            };
            let last: String = c
                .texts
                .last()
                .map(|t| t.replace('\n', " "))
                .unwrap_or_default();
            let last = if last.chars().count() > 40 {
                format!("{}…", last.chars().take(39).collect::<String>())
            } else {
                last
            };
            [
                c.conversation.clone(),
                c.account.clone(),
                c.fragments.to_string(),
                due,
                duration(c.window_ms),
                cadence,
                last,
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 7]| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            let pad = " ".repeat(w.saturating_sub(cell.chars().count()));
            // The count right-aligned, text left-aligned.
            if i == 2 {
                s.push_str(&pad);
                s.push_str(cell);
            } else {
                s.push_str(cell);
                s.push_str(&pad);
            }
            s.push_str("  ");
        }
        s.truncate(s.trim_end().len());
        s.push('\n');
        s
    };
    let mut out = line(header);
    for row in &cells {
        out.push_str(&line(row.each_ref().map(String::as_str)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(350), "350ms");
        assert_eq!(duration(1_234), "1.2s");
        assert_eq!(duration(125_000), "2m05s");
    }

    #[test]
    fn the_table_lines_up() {
        let rows = vec![
            Conversation {
                account: "5511000".into(),
                conversation: "5511999".into(),
                fragments: 3,
                texts: vec!["oi".into(), "tudo bem?".into()],
                due_in_ms: 1_500,
                window_ms: 2_000,
                forced: false,
                cadence: Some(Cadence {
                    avg_gap_ms: 800,
                    samples: 4,
                }),
            },
            Conversation {
                account: "a".into(),
                conversation: "b".into(),
                fragments: 12,
                texts: vec![],
                due_in_ms: 0,
                window_ms: 10_000,
                forced: true,
                cadence: None,
            },
        ];
        let t = table(&rows);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0],
            "CONVERSATION  ACCOUNT  FRAGMENTS  DUE IN  WINDOW  CADENCE                   LAST"
        );
        assert_eq!(
            lines[1],
            "5511999       5511000          3  1.5s    2.0s    800ms avg gap, 4 samples  tudo bem?"
        );
        assert_eq!(
            lines[2],
            "b             a               12  due     10.0s   -"
        );
    }
}
