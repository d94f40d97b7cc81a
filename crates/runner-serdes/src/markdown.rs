//! `io.kestra.plugin.serdes.markdown`: HTML to Markdown (ATX headings, links and images kept,
//! scripts and `ignoreTags` dropped), Markdown to HTML (CommonMark, raw HTML passed through) and
//! Markdown to plain text. Documents are read whole, bounded.

use crate::files::{OutputFile, utf8_only};
use runner_core::plugin::*;
use serde::Deserialize;
use tokio::io::AsyncReadExt;

/// The largest document read into memory.
const MAX_DOCUMENT: u64 = 64 * 1024 * 1024;
/// How deep elements may nest before the rest is flattened (a hostile page cannot make runner
/// keep a stack without end).
const MAX_NESTING: usize = 512;

pub(crate) const HTML_TO_MARKDOWN: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.serdes.markdown.HtmlToMarkdown",
    aliases: &[],
    doc: "Convert an HTML file of the execution to Markdown (`.md`), dropping `ignoreTags` and scripts. Outputs: `uri`.",
    example: "id: to_markdown\ntype: io.kestra.plugin.serdes.markdown.HtmlToMarkdown\nfrom: \"{{ outputs.fetch.uri }}\"\nignoreTags:\n  - nav\n  - footer",
    shape: runnable::<HtmlToMarkdown>(),
};

pub(crate) const MARKDOWN_TO_HTML: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.serdes.markdown.MarkdownToHtml",
    aliases: &[],
    doc: "Convert a Markdown file of the execution to HTML (CommonMark; raw HTML passes through). Outputs: `uri`.",
    example: "id: to_html\ntype: io.kestra.plugin.serdes.markdown.MarkdownToHtml\nfrom: \"{{ outputs.report.uri }}\"",
    shape: runnable::<MarkdownToHtml>(),
};

pub(crate) const MARKDOWN_TO_TEXT: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.serdes.markdown.MarkdownToText",
    aliases: &[],
    doc: "Convert a Markdown file of the execution to plain text: the text of paragraphs, headings, lists and links (code is dropped, as in Kestra). Outputs: `uri`.",
    example: "id: to_text\ntype: io.kestra.plugin.serdes.markdown.MarkdownToText\nfrom: \"{{ outputs.report.uri }}\"",
    shape: runnable::<MarkdownToText>(),
};

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct HtmlToMarkdown {
    /// The kestra:/// HTML file (read as UTF-8).
    from: Property<String>,
    /// Elements removed first: tag names, `.class`, `#id` or `tag.class` selectors.
    ignore_tags: Option<Property<Vec<String>>>,
    /// Makes relative link and image addresses absolute.
    base_uri: Option<Property<String>>,
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct MarkdownToHtml {
    /// The kestra:/// Markdown file.
    from: Property<String>,
    /// Input encoding: UTF-8.
    charset: Option<Property<String>>,
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct MarkdownToText {
    /// The kestra:/// Markdown file.
    from: Property<String>,
    /// Input encoding: UTF-8.
    charset: Option<Property<String>>,
}

async fn read_document(ctx: &RunContext, from: &str) -> Result<String, TaskError> {
    let file = ctx.open_execution_file(from).await?;
    let mut bytes = Vec::new();
    let read = file.take(MAX_DOCUMENT + 1).read_to_end(&mut bytes).await;
    read.map_err(|e| TaskError::new(ErrorKind::Io, format!("cannot read {from}")).caused_by(e))?;
    if bytes.len() as u64 > MAX_DOCUMENT {
        return Err(TaskError::new(
            ErrorKind::BadData,
            format!("{from} is larger than 64 MiB: runner converts a document in memory"),
        ));
    }
    // Invalid UTF-8 becomes U+FFFD, as a Java reader decoding UTF-8 does.
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Ok(text.trim_start_matches('\u{feff}').to_string())
}

async fn write_output(ctx: &RunContext, text: &str, extension: &str) -> Result<Outputs, TaskError> {
    let mut out = OutputFile::create(ctx, extension).await?;
    out.write(text).await?;
    let uri = out.finish().await?;
    ctx.metric(Metric {
        name: "bytes".into(),
        kind: MetricKind::Counter,
        value: text.chars().count() as f64,
        tags: Default::default(),
    });
    Ok(Outputs::from_iter([("uri".to_string(), Json::String(uri))]))
}

impl RunnableTask for HtmlToMarkdown {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let from = ctx.render(&self.from, "from")?;
            let ignore = ctx
                .render_opt(&self.ignore_tags, "ignoreTags")?
                .unwrap_or_default();
            let selectors = ignore
                .iter()
                .map(|s| Selector::parse(s).ok_or_else(|| {
                    TaskError::property("ignoreTags", format!("`{s}` is not a selector runner reads: give a tag name, `.class`, `#id` or `tag.class`"))
                }))
                .collect::<Result<Vec<_>, _>>()?;
            let base = ctx.render_opt(&self.base_uri, "baseUri")?;
            let html = read_document(ctx, &from).await?;
            let markdown = html_to_markdown(&html, &selectors, base.as_deref());
            write_output(ctx, &markdown, "md").await
        })
    }
}

impl RunnableTask for MarkdownToHtml {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let from = ctx.render(&self.from, "from")?;
            utf8_only(ctx.render_opt(&self.charset, "charset")?)?;
            let markdown = read_document(ctx, &from).await?;
            let mut html = String::with_capacity(markdown.len() * 3 / 2);
            pulldown_cmark::html::push_html(&mut html, pulldown_cmark::Parser::new(&markdown));
            write_output(ctx, &html, "html").await
        })
    }
}

impl RunnableTask for MarkdownToText {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let from = ctx.render(&self.from, "from")?;
            utf8_only(ctx.render_opt(&self.charset, "charset")?)?;
            let markdown = read_document(ctx, &from).await?;
            write_output(ctx, &markdown_to_text(&markdown), "txt").await
        })
    }
}

fn markdown_to_text(markdown: &str) -> String {
    use pulldown_cmark::{Event, Tag, TagEnd};
    let mut out = String::new();
    let mut in_code = 0usize;
    for event in pulldown_cmark::Parser::new(markdown) {
        match event {
            Event::Start(Tag::CodeBlock(_)) => in_code += 1,
            Event::End(TagEnd::CodeBlock) => in_code = in_code.saturating_sub(1),
            Event::Start(Tag::Item) => out.push_str("- "),
            Event::Text(t) if in_code == 0 => out.push_str(&t),
            Event::SoftBreak => out.push(' '),
            Event::HardBreak => out.push('\n'),
            Event::End(TagEnd::Paragraph | TagEnd::Heading(_)) => out.push('\n'),
            Event::End(TagEnd::Item) if !out.ends_with('\n') => out.push('\n'),
            _ => {}
        }
    }
    out.trim().to_string()
}

/// A selector of `ignoreTags`: a tag, a class, an id, or a tag with a class.
#[derive(Debug, PartialEq)]
struct Selector {
    tag: Option<String>,
    class: Option<String>,
    id: Option<String>,
}

impl Selector {
    fn parse(s: &str) -> Option<Selector> {
        let s = s.trim();
        let word = |w: &str| {
            !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        if let Some(id) = s.strip_prefix('#') {
            return word(id).then(|| Selector {
                tag: None,
                class: None,
                id: Some(id.into()),
            });
        }
        let (tag, class) = match s.split_once('.') {
            Some((t, c)) => (t, Some(c)),
            None => (s, None),
        };
        if !tag.is_empty() && !word(tag)
            || class.is_some_and(|c| !word(c))
            || tag.is_empty() && class.is_none()
        {
            return None;
        }
        Some(Selector {
            tag: (!tag.is_empty()).then(|| tag.to_ascii_lowercase()),
            class: class.map(str::to_string),
            id: None,
        })
    }

    fn matches(
        &self,
        tag: &str,
        attrs: &std::collections::BTreeMap<html5gum::HtmlString, html5gum::HtmlString>,
    ) -> bool {
        let attr = |name: &str| {
            attrs
                .get(name.as_bytes())
                .map(|v| String::from_utf8_lossy(v).into_owned())
        };
        self.tag.as_deref().is_none_or(|t| t == tag)
            && self
                .class
                .as_deref()
                .is_none_or(|c| attr("class").is_some_and(|v| v.split_whitespace().any(|x| x == c)))
            && self
                .id
                .as_deref()
                .is_none_or(|i| attr("id").as_deref() == Some(i))
    }
}

/// `href` made absolute against `base` when it is relative.
fn absolute(href: &str, base: Option<&str>) -> String {
    let Some(base) = base else {
        return href.to_string();
    };
    if href.contains("://")
        || href.starts_with('#')
        || href.starts_with("mailto:")
        || href.starts_with("data:")
    {
        return href.to_string();
    }
    let base = base.trim_end_matches('/');
    if let Some(path) = href.strip_prefix('/') {
        // The origin of the base: scheme and host.
        let origin_end = base
            .find("://")
            .map(|i| i + 3)
            .and_then(|i| base[i..].find('/').map(|j| i + j))
            .unwrap_or(base.len());
        format!("{}/{path}", &base[..origin_end])
    } else {
        format!("{base}/{href}")
    }
}

enum Frame {
    /// A list: ordered with its next number, or not.
    List(Option<u32>),
    Link(String),
    Quote,
    Other,
}

struct Writer {
    /// Output buffers: a blockquote collects its text to prefix it when it ends.
    out: Vec<String>,
    stack: Vec<(String, Frame)>,
    pre: usize,
    table_row_cells: usize,
    table_rows: usize,
    header_cells: usize,
}

impl Writer {
    fn buf(&mut self) -> &mut String {
        self.out.last_mut().expect("the document buffer")
    }

    /// Ends the current block: a blank line before what follows.
    fn block(&mut self) {
        let b = self.buf();
        let trimmed = b.trim_end_matches([' ', '\t']).len();
        b.truncate(trimmed);
        if b.is_empty() || b.ends_with("\n\n") {
            return;
        }
        b.push_str(if b.ends_with('\n') { "\n" } else { "\n\n" });
    }

    fn line(&mut self) {
        let b = self.buf();
        if !b.is_empty() && !b.ends_with('\n') {
            b.push('\n');
        }
    }

    fn text(&mut self, t: &str) {
        if self.pre > 0 {
            self.buf().push_str(t);
            return;
        }
        let mut collapsed = String::with_capacity(t.len());
        let mut space = false;
        for c in t.chars() {
            if c.is_whitespace() {
                space = true;
            } else {
                if space {
                    collapsed.push(' ');
                }
                space = false;
                collapsed.push(c);
            }
        }
        if space {
            collapsed.push(' ');
        }
        let b = self.buf();
        let at_line_start = b.is_empty() || b.ends_with('\n') || b.ends_with(' ');
        let collapsed = if at_line_start {
            collapsed.trim_start()
        } else {
            &collapsed
        };
        b.push_str(collapsed);
    }

    fn list_depth(&self) -> usize {
        self.stack
            .iter()
            .filter(|(_, f)| matches!(f, Frame::List(_)))
            .count()
    }
}

fn html_to_markdown(html: &str, ignore: &[Selector], base: Option<&str>) -> String {
    use html5gum::{Token, Tokenizer};
    let mut w = Writer {
        out: vec![String::new()],
        stack: Vec::new(),
        pre: 0,
        table_row_cells: 0,
        table_rows: 0,
        header_cells: 0,
    };
    // Skipping an ignored element: its name and how many of the same are open inside it.
    let mut skipping: Option<(String, usize)> = None;
    for token in Tokenizer::new(html).flatten() {
        match token {
            Token::StartTag(tag) => {
                let name = String::from_utf8_lossy(&tag.name).to_ascii_lowercase();
                let attrs: std::collections::BTreeMap<html5gum::HtmlString, html5gum::HtmlString> =
                    tag.attributes
                        .iter()
                        .map(|(k, v)| (k.clone(), v.value.clone()))
                        .collect();
                let void = tag.self_closing
                    || matches!(
                        name.as_str(),
                        "br" | "hr"
                            | "img"
                            | "meta"
                            | "link"
                            | "input"
                            | "area"
                            | "base"
                            | "col"
                            | "embed"
                            | "source"
                            | "track"
                            | "wbr"
                    );
                if let Some((skip, depth)) = &mut skipping {
                    if *skip == name && !void {
                        *depth += 1;
                    }
                    continue;
                }
                let dropped = matches!(
                    name.as_str(),
                    "script" | "style" | "head" | "noscript" | "template" | "svg"
                ) || ignore.iter().any(|s| s.matches(&name, &attrs));
                if dropped {
                    if !void {
                        skipping = Some((name, 0));
                    }
                    continue;
                }
                let attr = |n: &str| {
                    attrs
                        .get(n.as_bytes())
                        .map(|v| String::from_utf8_lossy(v).into_owned())
                };
                let mut frame = Frame::Other;
                match name.as_str() {
                    "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                        w.block();
                        let level = name[1..].parse::<usize>().unwrap_or(1);
                        w.buf().push_str(&format!("{} ", "#".repeat(level)));
                    }
                    "p" | "div" | "section" | "article" | "header" | "footer" | "main"
                    | "aside" | "nav" | "figure" | "table" | "dl" => {
                        w.block();
                        if name == "table" {
                            w.table_rows = 0;
                        }
                    }
                    "br" => w.buf().push_str("  \n"),
                    "hr" => {
                        w.block();
                        w.buf().push_str("---");
                        w.block();
                    }
                    "strong" | "b" => w.buf().push_str("**"),
                    "em" | "i" => w.buf().push('*'),
                    "code" if w.pre == 0 => w.buf().push('`'),
                    "pre" => {
                        w.block();
                        w.buf().push_str("```\n");
                        w.pre += 1;
                    }
                    "ul" => {
                        if w.list_depth() == 0 {
                            w.block();
                        }
                        frame = Frame::List(None);
                    }
                    "ol" => {
                        if w.list_depth() == 0 {
                            w.block();
                        }
                        frame = Frame::List(Some(
                            attr("start").and_then(|s| s.parse().ok()).unwrap_or(1),
                        ));
                    }
                    "li" => {
                        w.line();
                        let depth = w.list_depth().max(1);
                        let marker = match w.stack.iter_mut().rev().find_map(|(_, f)| match f {
                            Frame::List(n) => Some(n),
                            _ => None,
                        }) {
                            Some(Some(n)) => {
                                let m = format!("{n}. ");
                                *n += 1;
                                m
                            }
                            _ => "- ".to_string(),
                        };
                        let indent = "  ".repeat(depth - 1);
                        w.buf().push_str(&format!("{indent}{marker}"));
                    }
                    "a" => {
                        if let Some(href) = attr("href") {
                            w.buf().push('[');
                            frame = Frame::Link(absolute(&href, base));
                        }
                    }
                    "img" => {
                        let src = absolute(&attr("src").unwrap_or_default(), base);
                        let alt = attr("alt").unwrap_or_default();
                        w.buf().push_str(&format!("![{alt}]({src})"));
                    }
                    "blockquote" => {
                        w.block();
                        w.out.push(String::new());
                        frame = Frame::Quote;
                    }
                    "tr" => {
                        w.line();
                        w.table_row_cells = 0;
                        w.buf().push('|');
                    }
                    "th" | "td" => {
                        w.table_row_cells += 1;
                        w.buf().push(' ');
                    }
                    _ => {}
                }
                if !void && w.stack.len() < MAX_NESTING {
                    w.stack.push((name, frame));
                }
            }
            Token::EndTag(tag) => {
                let name = String::from_utf8_lossy(&tag.name).to_ascii_lowercase();
                if let Some((skip, depth)) = &mut skipping {
                    if *skip == name {
                        if *depth == 0 {
                            skipping = None;
                        } else {
                            *depth -= 1;
                        }
                    }
                    continue;
                }
                // Close up to the matching element; a stray end tag closes nothing.
                let Some(at) = w.stack.iter().rposition(|(n, _)| *n == name) else {
                    continue;
                };
                let closed: Vec<(String, Frame)> = w.stack.drain(at..).collect();
                for (n, frame) in closed.into_iter().rev() {
                    match (n.as_str(), frame) {
                        (_, Frame::Link(href)) => w.buf().push_str(&format!("]({href})")),
                        (_, Frame::Quote) => {
                            let inner = w.out.pop().unwrap_or_default();
                            let quoted: Vec<String> = inner
                                .trim_end()
                                .lines()
                                .map(|l| {
                                    if l.is_empty() {
                                        ">".to_string()
                                    } else {
                                        format!("> {l}")
                                    }
                                })
                                .collect();
                            w.buf().push_str(&quoted.join("\n"));
                            w.block();
                        }
                        (_, Frame::List(_)) => {
                            if w.list_depth() == 0 {
                                w.block();
                            } else {
                                w.line();
                            }
                        }
                        (
                            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "p" | "div" | "section"
                            | "article" | "header" | "footer" | "main" | "aside" | "nav" | "figure"
                            | "dl",
                            _,
                        ) => w.block(),
                        ("table", _) => w.block(),
                        ("strong" | "b", _) => w.buf().push_str("**"),
                        ("em" | "i", _) => w.buf().push('*'),
                        ("code", _) if w.pre == 0 => w.buf().push('`'),
                        ("pre", _) => {
                            w.pre = w.pre.saturating_sub(1);
                            w.line();
                            w.buf().push_str("```");
                            w.block();
                        }
                        ("th" | "td", _) => w.buf().push_str(" |"),
                        ("tr", _) => {
                            w.table_rows += 1;
                            if w.table_rows == 1 {
                                w.header_cells = w.table_row_cells;
                                let sep = format!("\n|{}", " --- |".repeat(w.header_cells.max(1)));
                                w.buf().push_str(&sep);
                            }
                            w.line();
                        }
                        _ => {}
                    }
                }
            }
            Token::String(text) if skipping.is_none() => {
                let t = String::from_utf8_lossy(&text).into_owned();
                w.text(&t);
            }
            _ => {}
        }
    }
    // Unclosed blockquotes: their text, unquoted.
    while w.out.len() > 1 {
        let inner = w.out.pop().unwrap_or_default();
        w.buf().push_str(&inner);
    }
    let out = w.out.pop().unwrap_or_default();
    let lines: Vec<&str> = out
        .lines()
        .map(|l| l.trim_end_matches([' ', '\t']))
        .collect();
    // Hard breaks keep their two spaces; other trailing blanks go.
    let mut text = String::with_capacity(out.len());
    for (i, l) in out.lines().enumerate() {
        if l.ends_with("  ") && !l.trim().is_empty() {
            text.push_str(l.trim_end());
            text.push_str("  ");
        } else {
            text.push_str(lines[i]);
        }
        text.push('\n');
    }
    let trimmed = text.trim();
    format!("{trimmed}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_becomes_markdown() {
        let html = r#"<html><head><title>x</title><script>alert(1)</script></head><body>
            <nav class="menu">Home | About</nav>
            <h1>Report &amp; notes</h1>
            <p>Some <strong>bold</strong> and <em>slanted</em>   text with <a href="/docs">a link</a>
               and <code>code</code>.<br>Next line.</p>
            <ul><li>one</li><li>two<ol><li>inner</li></ol></li></ul>
            <blockquote><p>quoted</p></blockquote>
            <pre>let x = 1;
  indented</pre>
            <img src="pic.png" alt="a pic">
            <table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>
            <div id="footer">bye</div>
        </body></html>"#;
        let ignore = vec![
            Selector::parse(".menu").unwrap(),
            Selector::parse("#footer").unwrap(),
        ];
        let md = html_to_markdown(html, &ignore, Some("https://example.com/base/"));
        assert_eq!(
            md,
            "# Report & notes\n\nSome **bold** and *slanted* text with [a link](https://example.com/docs) and `code`.  \nNext line.\n\n- one\n- two\n  1. inner\n\n> quoted\n\n```\nlet x = 1;\n  indented\n```\n\n![a pic](https://example.com/base/pic.png)\n\n| a | b |\n| --- | --- |\n| 1 | 2 |\n"
        );
        assert!(Selector::parse("div > p").is_none());
    }

    #[test]
    fn markdown_becomes_text() {
        let md = "# Title\n\nA *soft*\nbreak and [a link](x) and `code`.\n\n```\ndropped\n```\n\n- one\n- two\n";
        assert_eq!(
            markdown_to_text(md),
            "Title\nA soft break and a link and .\n- one\n- two"
        );
    }
}
