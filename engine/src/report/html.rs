//! `--format html`: one self-contained page to look at a review (docs/reviews.md). No
//! network and no external scripts: the style and the one script are inline, the script
//! allowed by its hash in the page's Content-Security-Policy, the charts inline SVG.
//! Readable on a phone (one column below 720 px) and printable (filters hidden, every
//! row and detail shown). Everything from a report is HTML-escaped.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;

use super::diff::Diff;
use super::{escape_controls, Report, SubjectResult, Verdict};
use crate::decide::waivers::WaiverState;

/// Text for HTML content and attribute values.
fn h(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in escape_controls(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root{--pass:#1a7f37;--fail:#cf222e;--err:#9a6700;--waived:#8250df;--muted:#57606a;--line:#d0d7de;--bg:#f6f8fa}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1f2328;background:#fff}
main{max-width:1200px;margin:0 auto;padding:16px}
h1{font-size:1.5rem;margin:.2em 0}h2{font-size:1.15rem;margin:1.6em 0 .5em;border-bottom:1px solid var(--line);padding-bottom:.2em}
.meta{color:var(--muted);font-size:.9rem;overflow-wrap:anywhere}
.banner{padding:10px 14px;border-radius:6px;font-weight:600;margin:12px 0}
.banner.pass{background:#dafbe1;color:var(--pass)}.banner.fail{background:#ffebe9;color:var(--fail)}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(130px,1fr));gap:10px}
.card{background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:10px}
.card b{display:block;font-size:1.6rem}
table{border-collapse:collapse;width:100%;font-size:.92rem}
th,td{border-bottom:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top}
th{background:var(--bg)}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.v{font-weight:700;font-size:.8rem;padding:1px 6px;border-radius:10px;color:#fff;white-space:nowrap}
.v.pass{background:var(--pass)}.v.fail{background:var(--fail)}.v.error{background:var(--err)}
.v.active{background:var(--pass)}.v.expiring{background:var(--err)}.v.expired{background:var(--fail)}.v.pending{background:var(--muted)}.v.unused{background:var(--waived)}
.name{overflow-wrap:anywhere;font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.85rem}
.finding{margin:2px 0}.finding .code{font-family:ui-monospace,monospace;font-size:.8rem;color:var(--muted)}
.fix{color:var(--muted)}.waived{color:var(--waived)}
details pre{white-space:pre-wrap;word-break:break-all;background:var(--bg);padding:6px;font-size:.8rem;max-height:320px;overflow:auto}
.controls{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0}
.controls input,.controls select{font:inherit;padding:6px 8px;border:1px solid var(--line);border-radius:6px}
.controls input{flex:1 1 240px}
svg text{font:12px system-ui,sans-serif;fill:#1f2328}
.scroll{overflow-x:auto}
@media (max-width:720px){
 table thead{display:none}
 table tr{display:block;border-bottom:2px solid var(--line);padding:6px 0}
 table td{display:block;border:0;padding:2px 4px;text-align:left}
 table td[data-label]::before{content:attr(data-label) ": ";color:var(--muted);font-size:.8rem}
 td.num{text-align:left}
}
@media print{
 .controls{display:none}
 tr[hidden]{display:table-row!important}
 details>*{display:block}
 .banner,.v{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
"#;

/// Filter the subject table by text and verdict; counts what shows.
const SCRIPT: &str = r#"
(function(){
  var q=document.getElementById('q'),v=document.getElementById('verdict'),n=document.getElementById('shown');
  var rows=Array.prototype.slice.call(document.querySelectorAll('table.subjects tbody tr'));
  function apply(){
    var text=q.value.toLowerCase(),want=v.value,shown=0;
    rows.forEach(function(r){
      var ok=(want==='all'||r.getAttribute('data-verdict')===want||(want==='waived'&&r.getAttribute('data-waived')==='1'))
        &&(text===''||r.textContent.toLowerCase().indexOf(text)>=0);
      r.hidden=!ok; if(ok){shown++;}
    });
    n.textContent=String(shown);
  }
  q.addEventListener('input',apply);v.addEventListener('change',apply);
  window.addEventListener('beforeprint',function(){document.querySelectorAll('details').forEach(function(d){d.open=true;});});
  apply();
  document.body.setAttribute('data-ready','1');
})();
"#;

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::Error => "error",
    }
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
        Verdict::Error => "NOT JUDGED",
    }
}

/// Age bins for the signature age histogram (days, upper bounds).
const AGE_BINS: [(&str, f64); 6] =
    [("< 1 day", 1.0), ("1–7 days", 7.0), ("7–30 days", 30.0), ("30–90 days", 90.0), ("90–365 days", 365.0), ("> 1 year", f64::MAX)];

/// Days between the newest verified signature and the effective time.
fn age_days(s: &SubjectResult, now: Option<jiff::Timestamp>) -> Option<f64> {
    let now = now?;
    let newest = s.signers.iter().filter_map(|x| x.signed_at.as_deref()?.parse::<jiff::Timestamp>().ok()).max()?;
    Some(now.duration_since(newest).as_secs_f64() / 86_400.0)
}

/// A horizontal bar chart as inline SVG: one bar per (label, value).
fn bar_chart(title: &str, rows: &[(String, usize)], color: &str) -> String {
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1);
    let (label_w, bar_w, row_h) = (130.0, 300.0, 24.0);
    let height = row_h * rows.len() as f64 + 8.0;
    let mut svg = format!(
        "<svg role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {} {height}\" width=\"100%\" style=\"max-width:560px\" xmlns=\"http://www.w3.org/2000/svg\">",
        h(title),
        label_w + bar_w + 60.0
    );
    for (i, (label, value)) in rows.iter().enumerate() {
        let y = i as f64 * row_h + 4.0;
        let w = (*value as f64 / max as f64) * bar_w;
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{:.1}\">{}</text><rect x=\"{label_w}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"{color}\" rx=\"2\"/><text x=\"{:.1}\" y=\"{:.1}\">{value}</text>",
            y + 15.0,
            h(label),
            row_h - 6.0,
            label_w + w + 6.0,
            y + 15.0
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A pass/fail/not-judged bar as inline SVG.
fn stacked(pass: usize, fail: usize, error: usize) -> String {
    let total = (pass + fail + error).max(1) as f64;
    let mut x = 0.0;
    let mut svg =
        String::from("<svg viewBox=\"0 0 100 10\" width=\"100\" height=\"10\" xmlns=\"http://www.w3.org/2000/svg\" aria-hidden=\"true\">");
    for (n, color) in [(pass, "#1a7f37"), (fail, "#cf222e"), (error, "#9a6700")] {
        let w = n as f64 / total * 100.0;
        if w > 0.0 {
            let _ = write!(svg, "<rect x=\"{x:.2}\" y=\"0\" width=\"{w:.2}\" height=\"10\" fill=\"{color}\"/>");
        }
        x += w;
    }
    svg.push_str("</svg>");
    svg
}

pub fn render(r: &Report, previous: Option<&Diff>) -> String {
    let script_hash = base64::engine::general_purpose::STANDARD.encode(sigstore_verify::crypto::sha256(SCRIPT.as_bytes()).as_bytes());
    let m = &r.summary;
    let mut out = String::with_capacity(4096 + r.subjects.len() * 600);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{script_hash}'; img-src data:\">\
<title>vouch review: {} of {} subjects pass</title><style>{STYLE}</style></head><body><main>",
        m.passed, m.subjects
    );
    let _ = write!(
        out,
        "<h1>vouch review</h1><p class=\"meta\">effective time {} · shards {} · plan {} · vouch {}{}</p>",
        h(&r.effective_time),
        h(&r.shards.join(", ")),
        h(r.plan.id.get(..12).unwrap_or(&r.plan.id)),
        h(&r.tool.version),
        r.plan.trust.as_ref().map(|t| format!(" · trusted root {}", h(&t.source))).unwrap_or_default()
    );
    let ok = r.exit_code() == 0;
    let _ = write!(
        out,
        "<div class=\"banner {}\">{}</div>",
        if ok { "pass" } else { "fail" },
        if ok {
            format!("All {} subjects may ship.", m.subjects)
        } else {
            format!("{} of {} subjects may not ship.", m.failed + m.errors, m.subjects)
        }
    );
    if let Some(trust) = &r.plan.trust {
        for w in &trust.warnings {
            let _ = write!(out, "<p class=\"banner fail\">trust: {}</p>", h(w));
        }
    }

    // Summary counts.
    let waived: usize = r.subjects.iter().map(|s| s.waived.len()).sum();
    let by_summary = r.subjects.iter().filter(|s| s.summary.as_ref().is_some_and(|u| u.used)).count();
    out.push_str("<section id=\"summary\"><h2>Summary</h2><div class=\"cards\">");
    for (label, n) in [
        ("subjects", m.subjects),
        ("passed", m.passed),
        ("failed", m.failed),
        ("not judged", m.errors),
        ("findings waived", waived),
        ("passed by summary", by_summary),
    ] {
        let _ = write!(out, "<div class=\"card\"><b>{n}</b>{label}</div>");
    }
    out.push_str("</div></section>");

    // Verdicts by project, signer and ref.
    let mut groups: BTreeMap<(String, String, String), [usize; 3]> = BTreeMap::new();
    for s in &r.subjects {
        let signer = s.signers.first();
        let key = (
            signer.and_then(|x| x.project.clone()).unwrap_or_else(|| "—".into()),
            signer.and_then(|x| x.identity.clone()).unwrap_or_else(|| "(no verified signer)".into()),
            signer.and_then(|x| x.git_ref.clone()).unwrap_or_else(|| "—".into()),
        );
        let counts = groups.entry(key).or_default();
        let [p, f, e] = counts;
        match s.verdict {
            Verdict::Pass => *p += 1,
            Verdict::Fail => *f += 1,
            Verdict::Error => *e += 1,
        }
    }
    out.push_str("<section id=\"signers\"><h2>Verdicts by project, signer and ref</h2><div class=\"scroll\"><table><thead><tr><th>project</th><th>signer</th><th>ref</th><th>pass</th><th>fail</th><th>not judged</th><th></th></tr></thead><tbody>");
    for ((project, signer, git_ref), [p, f, e]) in &groups {
        let _ = write!(
            out,
            "<tr><td data-label=\"project\">{}</td><td class=\"name\" data-label=\"signer\">{}</td><td data-label=\"ref\">{}</td><td class=\"num\" data-label=\"pass\">{p}</td><td class=\"num\" data-label=\"fail\">{f}</td><td class=\"num\" data-label=\"not judged\">{e}</td><td>{}</td></tr>",
            h(project),
            h(signer),
            h(git_ref),
            stacked(*p, *f, *e)
        );
    }
    out.push_str("</tbody></table></div></section>");

    // Signature age.
    let now = r.effective_time.parse::<jiff::Timestamp>().ok();
    let mut bins = vec![0usize; AGE_BINS.len()];
    let (mut unknown, mut by_summary, mut future) = (0, 0, 0);
    for s in &r.subjects {
        if s.summary.as_ref().is_some_and(|u| u.used) {
            by_summary += 1;
            continue;
        }
        match age_days(s, now) {
            Some(days) if days < 0.0 => future += 1,
            Some(days) => {
                let i = AGE_BINS.iter().position(|(_, upper)| days < *upper).unwrap_or(AGE_BINS.len() - 1);
                if let Some(b) = bins.get_mut(i) {
                    *b += 1;
                }
            }
            None => unknown += 1,
        }
    }
    let mut rows: Vec<(String, usize)> = AGE_BINS.iter().zip(&bins).map(|((l, _), n)| (l.to_string(), *n)).collect();
    rows.push(("after the effective time".into(), future));
    rows.push(("no signed time".into(), unknown));
    rows.push(("verified by summary".into(), by_summary));
    let _ = write!(
        out,
        "<section id=\"age\"><h2>Signature age</h2><p class=\"meta\">the newest verified signature of each subject, before the effective time</p>{}</section>",
        bar_chart("signature age histogram", &rows, "#0969da")
    );

    // Waivers by expiry.
    if !r.waivers.is_empty() {
        let mut waivers: Vec<&crate::decide::waivers::WaiverStatus> = r.waivers.iter().collect();
        waivers.sort_by(|a, b| a.expires_on.cmp(&b.expires_on));
        out.push_str("<section id=\"waivers\"><h2>Waivers by expiry</h2><div class=\"scroll\"><table><thead><tr><th>expires</th><th>state</th><th>waiver</th><th>waives</th><th>owner</th><th>reason</th><th>findings</th></tr></thead><tbody>");
        for w in waivers {
            let state = match w.state {
                _ if w.unused() => "unused",
                WaiverState::Active => "active",
                WaiverState::Expiring => "expiring",
                WaiverState::Expired => "expired",
                WaiverState::Pending => "pending",
            };
            let reference = w.reference.as_deref().map(|u| format!("<br><span class=\"meta\">{}</span>", h(u))).unwrap_or_default();
            let _ = write!(
                out,
                "<tr><td data-label=\"expires\">{}</td><td><span class=\"v {state}\">{state}</span></td><td class=\"name\" data-label=\"waiver\">{}</td><td data-label=\"waives\">{} <span class=\"code\">{}</span></td><td data-label=\"owner\">{}</td><td data-label=\"reason\">{}{reference}</td><td class=\"num\" data-label=\"findings waived\">{}</td></tr>",
                h(&w.expires_on),
                h(&w.id),
                h(&w.package),
                h(&w.rule),
                h(&w.owner),
                h(&w.reason),
                w.matched
            );
        }
        out.push_str("</tbody></table></div></section>");
    }

    // What changed since the previous review.
    if let Some(d) = previous {
        out.push_str("<section id=\"changes\"><h2>Changes since the previous review</h2>");
        let _ = write!(
            out,
            "<p class=\"meta\">from {} ({} passed, {} failed) to {} ({} passed, {} failed)</p>",
            h(&d.old.effective_time),
            d.old.passed,
            d.old.failed,
            h(&d.new.effective_time),
            d.new.passed,
            d.new.failed
        );
        let rows = d.rows();
        if rows.is_empty() {
            out.push_str("<p>No changes.</p>");
        } else {
            out.push_str("<div class=\"scroll\"><table><thead><tr><th>change</th><th>subject</th><th>detail</th></tr></thead><tbody>");
            for r in rows {
                let _ =
                    write!(out, "<tr><td><b>{}</b></td><td class=\"name\">{}</td><td>{}</td></tr>", h(r.change), h(&r.name), h(&r.detail));
            }
            out.push_str("</tbody></table></div>");
        }
        out.push_str("</section>");
    }

    // Every subject, searchable and filterable.
    let _ = write!(
        out,
        "<section id=\"subjects\"><h2>Subjects</h2><div class=\"controls\"><input id=\"q\" type=\"search\" placeholder=\"Search subjects, signers, findings…\" aria-label=\"search\">\
<select id=\"verdict\" aria-label=\"verdict\"><option value=\"all\">every verdict</option><option value=\"fail\">failed</option><option value=\"error\">not judged</option><option value=\"pass\">passed</option><option value=\"waived\">with waived findings</option></select>\
<span class=\"meta\"><span id=\"shown\">{}</span> shown</span></div><div class=\"scroll\"><table class=\"subjects\"><thead><tr><th>verdict</th><th>subject</th><th>signed by</th><th>findings</th></tr></thead><tbody>",
        r.subjects.len()
    );
    for s in &r.subjects {
        subject_row(&mut out, s);
    }
    out.push_str("</tbody></table></div></section>");
    let _ = writeln!(out, "</main><script>{SCRIPT}</script></body></html>");
    out
}

fn subject_row(out: &mut String, s: &SubjectResult) {
    let class = verdict_class(s.verdict);
    let _ = write!(
        out,
        "<tr data-verdict=\"{class}\" data-waived=\"{}\"><td><span class=\"v {class}\">{}</span></td><td class=\"name\">{}</td><td>",
        u8::from(!s.waived.is_empty()),
        verdict_word(s.verdict),
        h(&s.name)
    );
    for x in &s.signers {
        let facts: Vec<String> = [
            x.project.as_deref().map(|p| format!("project {p}")),
            x.git_ref.as_deref().map(|r| format!("ref {r}")),
            x.commit.as_deref().map(|c| format!("commit {}", c.get(..12).unwrap_or(c))),
            x.signed_at.as_deref().map(|t| format!("signed {t}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        let _ = write!(
            out,
            "<div class=\"name\">{}</div><div class=\"meta\">{}</div>",
            h(x.identity.as_deref().unwrap_or("?")),
            h(&facts.join(" · "))
        );
    }
    if let Some(u) = s.summary.as_ref().filter(|u| u.used) {
        let _ = write!(out, "<div class=\"meta\">verified by summary at {}</div>", h(u.time_verified.as_deref().unwrap_or("?")));
    }
    out.push_str("</td><td>");
    for reason in &s.reasons {
        let title = reason.title.as_deref().map(|t| format!("<b>{}</b>: ", h(t))).unwrap_or_default();
        let _ = write!(
            out,
            "<div class=\"finding\">{title}{} <span class=\"code\">{}</span></div>",
            h(&reason.message),
            h(reason.shown_code())
        );
        if let Some(fix) = &reason.solution {
            let _ = write!(out, "<div class=\"fix\">fix: {}</div>", h(fix));
        }
    }
    for w in &s.warnings {
        let _ = write!(
            out,
            "<div class=\"finding\">warning: {} <span class=\"code\">{}</span></div>",
            h(&w.msg),
            h(w.code.as_deref().unwrap_or(&w.package))
        );
    }
    for w in &s.waived {
        let _ = write!(
            out,
            "<div class=\"finding waived\">waived: {} <span class=\"code\">{}</span> (waiver {}, {}, until {})</div>",
            h(&w.message),
            h(&w.code),
            h(&w.waiver),
            h(&w.owner),
            h(&w.expires_on)
        );
    }
    if let Some(why) = s.summary.as_ref().and_then(|u| u.rejected.as_deref()) {
        let _ = write!(out, "<div class=\"meta\">summary not used: {}</div>", h(why));
    }
    if !s.claims.is_empty() {
        let claims = serde_json::to_string_pretty(&s.claims).unwrap_or_default();
        let lines: Vec<String> = claims.lines().map(h).collect();
        let _ = write!(out, "<details><summary>claims</summary><pre>{}</pre></details>", lines.join("\n"));
    }
    out.push_str("</td></tr>");
}
