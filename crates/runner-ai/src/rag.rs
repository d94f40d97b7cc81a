//! Kestra's RAG tasks on an embedding store kept in the KV store (`KestraKVStore`):
//! `ai.rag.IngestDocument` (documents split into segments and embedded), `ai.rag.ChatCompletion`
//! (the segments nearest the prompt join it) and `ai.rag.Search`.

use crate::completion::refuse;
use crate::context::{Memory, Retrievers, augment};
use crate::provider::{self, Ask, Chat, Configuration, Message, Provider};
use runner_core::plugin::*;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, json};

pub(crate) const INGEST_DOCUMENT: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.ai.rag.IngestDocument",
    aliases: &["io.kestra.plugin.langchain4j.rag.IngestDocument"],
    doc: "Split documents into segments, embed them with the provider's embedding model and keep them in an embedding store (KestraKVStore: the namespace's KV store). Outputs: `ingestedDocuments`, token counts, `embeddingStoreOutputs`.",
    example: "id: ingest\ntype: io.kestra.plugin.ai.rag.IngestDocument\nprovider:\n  type: io.kestra.plugin.ai.provider.OpenAI\n  modelName: text-embedding-3-small\n  apiKey: \"{{ secret('OPENAI_API_KEY') }}\"\nembeddings:\n  type: io.kestra.plugin.ai.embeddings.KestraKVStore\ndocumentSplitter:\n  maxSegmentSizeInChars: 500\n  maxOverlapSizeInChars: 50\nfromDocuments:\n  - content: Kestra is an open-source orchestration platform.",
    shape: runnable::<IngestDocument>(),
};

pub(crate) const CHAT_COMPLETION: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.ai.rag.ChatCompletion",
    aliases: &["io.kestra.plugin.langchain4j.rag.ChatCompletion"],
    doc: "Answer a prompt with the segments of an embedding store nearest to it (and web results of `contentRetrievers`) added to it. Outputs: `textOutput`, `sources`, `tokenUsage`, `finishReason`.",
    example: "id: ask\ntype: io.kestra.plugin.ai.rag.ChatCompletion\nchatProvider:\n  type: io.kestra.plugin.ai.provider.OpenAI\n  modelName: gpt-4o-mini\n  apiKey: \"{{ secret('OPENAI_API_KEY') }}\"\nembeddingProvider:\n  type: io.kestra.plugin.ai.provider.OpenAI\n  modelName: text-embedding-3-small\n  apiKey: \"{{ secret('OPENAI_API_KEY') }}\"\nembeddings:\n  type: io.kestra.plugin.ai.embeddings.KestraKVStore\nprompt: What is Kestra?",
    shape: runnable::<RagChatCompletion>(),
};

pub(crate) const SEARCH: TaskDescriptor = TaskDescriptor {
    type_name: "io.kestra.plugin.ai.rag.Search",
    aliases: &["io.kestra.plugin.langchain4j.rag.Search"],
    doc: "Find the segments of an embedding store nearest to a query. Outputs: `results` (FETCH, FETCH_ONE), `uri` (STORE), `size`.",
    example: "id: search\ntype: io.kestra.plugin.ai.rag.Search\nprovider:\n  type: io.kestra.plugin.ai.provider.OpenAI\n  modelName: text-embedding-3-small\n  apiKey: \"{{ secret('OPENAI_API_KEY') }}\"\nembeddings:\n  type: io.kestra.plugin.ai.embeddings.KestraKVStore\nquery: orchestration\nmaxResults: 3\nminScore: 0.5\nfetchType: FETCH",
    shape: runnable::<Search>(),
};

/// `embeddings`: where segments are kept. runner has Kestra's `KestraKVStore`.
pub(crate) struct EmbeddingStore {
    kv_name: Option<Property<String>>,
}

impl PropType for EmbeddingStore {
    const NAME: &'static str = "embedding store";
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StoreFields {
    kv_name: Option<Property<String>>,
}

impl<'de> Deserialize<'de> for EmbeddingStore {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut map = Map::<String, Json>::deserialize(d)?;
        let Some(Json::String(kind)) = map.remove("type") else {
            return Err(D::Error::custom(
                "an embedding store needs a `type`: io.kestra.plugin.ai.embeddings.KestraKVStore",
            ));
        };
        if crate::context::short(&kind, "embeddings") != "KestraKVStore" {
            return Err(D::Error::custom(format!(
                "the embedding store `{kind}` is not supported by runner yet: use io.kestra.plugin.ai.embeddings.KestraKVStore"
            )));
        }
        let f = StoreFields::deserialize(Json::Object(map)).map_err(D::Error::custom)?;
        Ok(EmbeddingStore { kv_name: f.kv_name })
    }
}

/// One embedded segment.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Segment {
    text: String,
    metadata: Map<String, Json>,
    embedding: Vec<f32>,
}

impl EmbeddingStore {
    fn key(&self, ctx: &RunContext) -> Result<String, TaskError> {
        let name = match &self.kv_name {
            Some(p) => ctx.render(p, "embeddings.kvName")?,
            None => format!("{}-embedding-store", ctx.flow_id()),
        };
        check_key(&name).map_err(|why| TaskError::property("embeddings.kvName", why))?;
        Ok(name)
    }

    fn load(&self, ctx: &RunContext) -> Result<(String, Vec<Segment>), TaskError> {
        let key = self.key(ctx)?;
        let found = ctx
            .kv()?
            .lookup(ctx.namespace(), &key, false)
            .map_err(|e| TaskError::new(ErrorKind::Io, e))?;
        let segments = match found {
            KvLookup::Found(v) => {
                serde_json::from_value::<Stored>(v)
                    .map_err(|e| {
                        TaskError::new(
                            ErrorKind::BadData,
                            format!(
                                "the KV entry `{key}` is not an embedding store runner wrote: {e}"
                            ),
                        )
                        .hint("give `embeddings.kvName` a key of its own")
                    })?
                    .segments
            }
            _ => Vec::new(),
        };
        Ok((key, segments))
    }

    fn save(&self, ctx: &RunContext, key: &str, segments: Vec<Segment>) -> Result<(), TaskError> {
        let value = serde_json::to_value(Stored { segments })
            .map_err(|e| TaskError::new(ErrorKind::Other, e.to_string()))?;
        ctx.kv()?
            .set(KvWrite {
                namespace: ctx.namespace().to_string(),
                key: key.to_string(),
                value,
                kv_type: Some("JSON".into()),
                description: Some("runner embedding store".into()),
                ttl: None,
                overwrite: true,
            })
            .map_err(|e| TaskError::new(ErrorKind::Io, format!("the embedding store `{key}`: {e}")))
    }
}

#[derive(Serialize, Deserialize)]
struct Stored {
    segments: Vec<Segment>,
}

#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Document {
    content: String,
    metadata: Option<Map<String, Json>>,
}

impl PropType for Document {
    const NAME: &'static str = "document";
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
enum SplitterKind {
    Recursive,
    Paragraph,
    Line,
    Sentence,
    Word,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Splitter {
    splitter: Option<Property<SplitterKind>>,
    max_segment_size_in_chars: Property<i64>,
    max_overlap_size_in_chars: Property<i64>,
}

impl PropType for Splitter {
    const NAME: &'static str = "document splitter";
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct IngestDocument {
    /// The embedding model's provider: `type`, `modelName`, `apiKey`, `baseUrl`.
    #[prop(secret)]
    provider: Provider,
    /// The embedding store: `{type: io.kestra.plugin.ai.embeddings.KestraKVStore, kvName}`.
    embeddings: EmbeddingStore,
    /// A folder of the working directory whose files are ingested.
    from_path: Option<Property<String>>,
    /// Documents given inline: `[{content, metadata}]`.
    from_documents: Option<Property<Vec<Document>>>,
    /// `kestra://` text files.
    #[serde(rename = "fromInternalURIs")]
    from_internal_uris: Option<Property<Vec<String>>>,
    /// Web pages fetched as text.
    #[serde(rename = "fromExternalURLs")]
    from_external_urls: Option<Property<Vec<String>>>,
    /// Metadata (not applied, as in Kestra).
    metadata: Option<Property<Map<String, Json>>>,
    /// How documents are cut: `{splitter: RECURSIVE|PARAGRAPH|LINE|SENTENCE|WORD, maxSegmentSizeInChars, maxOverlapSizeInChars}`; none keeps each document whole.
    document_splitter: Option<Splitter>,
    /// Empty the store first (default false).
    drop: Option<Property<bool>>,
    /// How many segments one embedding request carries (default 500).
    bulk_size: Option<Property<i64>>,
}

impl RunnableTask for IngestDocument {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let _ = ctx.render_opt(&self.metadata, "metadata")?;
            let mut documents: Vec<(String, Map<String, Json>)> = Vec::new();
            if let Some(folder) = ctx.render_opt(&self.from_path, "fromPath")? {
                let root = ctx.working_dir()?.path().join(&folder);
                let files = list_files(&root).await.map_err(|e| {
                    TaskError::property(
                        "fromPath",
                        format!("cannot read the folder `{folder}`: {e}"),
                    )
                })?;
                for relative in files {
                    let path = root.join(relative);
                    let text = tokio::fs::read_to_string(&path).await.map_err(|e| {
                        TaskError::property(
                            "fromPath",
                            format!("cannot read {} as text: {e}", path.display()),
                        )
                    })?;
                    let mut m = Map::new();
                    m.insert(
                        "file_name".into(),
                        json!(path.file_name().map(|n| n.to_string_lossy().into_owned())),
                    );
                    documents.push((text, m));
                }
            }
            for d in ctx
                .render_opt(&self.from_documents, "fromDocuments")?
                .unwrap_or_default()
            {
                documents.push((d.content, d.metadata.unwrap_or_default()));
            }
            for uri in ctx
                .render_opt(&self.from_internal_uris, "fromInternalURIs")?
                .unwrap_or_default()
            {
                let path = ctx.execution_file_path(&uri)?;
                let text = tokio::fs::read_to_string(&path).await.map_err(|e| {
                    TaskError::property(
                        "fromInternalURIs",
                        format!("cannot read `{uri}` as text: {e}"),
                    )
                })?;
                let mut m = Map::new();
                m.insert("uri".into(), json!(uri));
                documents.push((text, m));
            }
            for url in ctx
                .render_opt(&self.from_external_urls, "fromExternalURLs")?
                .unwrap_or_default()
            {
                let parsed = runner_http::client::parse_url(ctx, "fromExternalURLs", &url)?;
                let http = runner_http::client::client(ctx, &Default::default())?;
                let response = http
                    .get(parsed.clone())
                    .send()
                    .await
                    .map_err(|e| runner_http::client::send_error(parsed.as_str(), e))?;
                let status = response.status();
                if !status.is_success() {
                    return Err(TaskError::new(
                        ErrorKind::Remote,
                        format!("`{url}` answered {status}"),
                    ));
                }
                let text = response.text().await.map_err(|e| {
                    TaskError::new(ErrorKind::Remote, format!("`{url}` could not be read"))
                        .caused_by(e)
                })?;
                let mut m = Map::new();
                m.insert("url".into(), json!(url));
                documents.push((text, m));
            }
            let splitter = match &self.document_splitter {
                Some(s) => {
                    let kind = ctx
                        .render_opt(&s.splitter, "documentSplitter.splitter")?
                        .unwrap_or(SplitterKind::Recursive);
                    let max = ctx.render(
                        &s.max_segment_size_in_chars,
                        "documentSplitter.maxSegmentSizeInChars",
                    )?;
                    let overlap = ctx.render(
                        &s.max_overlap_size_in_chars,
                        "documentSplitter.maxOverlapSizeInChars",
                    )?;
                    if max < 1 || overlap < 0 || overlap >= max {
                        return Err(TaskError::property(
                            "documentSplitter",
                            "needs maxSegmentSizeInChars ≥ 1 and 0 ≤ maxOverlapSizeInChars < maxSegmentSizeInChars",
                        ));
                    }
                    Some((kind, max as usize, overlap as usize))
                }
                None => None,
            };
            let bulk = ctx.render_opt(&self.bulk_size, "bulkSize")?.unwrap_or(500);
            if bulk < 1 {
                return Err(TaskError::property("bulkSize", "must be at least 1"));
            }
            let mut pieces: Vec<(String, Map<String, Json>)> = Vec::new();
            for (text, metadata) in &documents {
                let parts = match splitter {
                    Some((kind, max, overlap)) => split(text, kind, max, overlap),
                    None => vec![text.clone()],
                };
                for (i, p) in parts.into_iter().enumerate() {
                    if p.trim().is_empty() {
                        continue;
                    }
                    let mut m = metadata.clone();
                    m.insert("index".into(), json!(i));
                    pieces.push((p, m));
                }
            }
            let drop = ctx.render_opt(&self.drop, "drop")?.unwrap_or(false);
            let (key, mut segments) = self.embeddings.load(ctx)?;
            if drop {
                segments.clear();
            }
            let mut tokens = 0i64;
            for chunk in pieces.chunks(bulk as usize) {
                let texts: Vec<String> = chunk.iter().map(|(t, _)| t.clone()).collect();
                let (vectors, used) = self.provider.embed(ctx, "provider", &texts).await?;
                tokens += used;
                for ((text, metadata), embedding) in chunk.iter().cloned().zip(vectors) {
                    segments.push(Segment {
                        text,
                        metadata,
                        embedding,
                    });
                }
            }
            self.embeddings.save(ctx, &key, segments)?;
            ctx.metric(Metric {
                name: "indexed.documents".into(),
                kind: MetricKind::Counter,
                value: documents.len() as f64,
                tags: Map::new(),
            });
            let count = |n: i64| if n == 0 { Json::Null } else { json!(n) };
            let mut out = Outputs::new();
            out.insert("ingestedDocuments".into(), json!(documents.len()));
            out.insert("inputTokenCount".into(), count(tokens));
            out.insert("outputTokenCount".into(), Json::Null);
            out.insert("totalTokenCount".into(), count(tokens));
            out.insert("embeddingStoreOutputs".into(), json!({"kvName": key}));
            Ok(out)
        })
    }
}

/// Cuts `text` into segments of at most `max` characters, each starting with up to `overlap`
/// characters of the previous one's end (whole units): paragraphs, lines, sentences or words,
/// and for RECURSIVE the largest unit that fits.
fn split(text: &str, kind: SplitterKind, max: usize, overlap: usize) -> Vec<String> {
    let units = units(text, kind, max);
    let mut out: Vec<String> = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let len = |parts: &[String]| {
        parts.iter().map(|p| p.chars().count()).sum::<usize>() + parts.len().saturating_sub(1)
    };
    for unit in units {
        let mut candidate = current.clone();
        candidate.push(unit.clone());
        if len(&candidate) <= max || current.is_empty() {
            current = candidate;
            continue;
        }
        out.push(current.join(" "));
        // The overlap: the last units of this segment that fit in `overlap` characters.
        let mut kept: Vec<String> = Vec::new();
        for u in current.iter().rev() {
            let mut with = vec![u.clone()];
            with.extend(kept.iter().cloned());
            if len(&with) > overlap {
                break;
            }
            kept = with;
        }
        kept.push(unit);
        current = kept;
    }
    if !current.is_empty() {
        out.push(current.join(" "));
    }
    out
}

/// The units of a splitter; RECURSIVE goes down to smaller units only for what is too long.
fn units(text: &str, kind: SplitterKind, max: usize) -> Vec<String> {
    let by = |text: &str, kind: SplitterKind| -> Vec<String> {
        let parts: Vec<String> = match kind {
            SplitterKind::Paragraph => text.split("\n\n").map(str::to_string).collect(),
            SplitterKind::Line => text.lines().map(str::to_string).collect(),
            SplitterKind::Sentence => sentences(text),
            SplitterKind::Word => text.split_whitespace().map(str::to_string).collect(),
            SplitterKind::Recursive => unreachable!("handled below"),
        };
        parts
            .into_iter()
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect()
    };
    if kind != SplitterKind::Recursive {
        return by(text, kind);
    }
    let order = [
        SplitterKind::Paragraph,
        SplitterKind::Line,
        SplitterKind::Sentence,
        SplitterKind::Word,
    ];
    fn go(
        text: &str,
        level: usize,
        max: usize,
        order: &[SplitterKind],
        by: &dyn Fn(&str, SplitterKind) -> Vec<String>,
    ) -> Vec<String> {
        if text.chars().count() <= max || level == order.len() {
            if text.chars().count() <= max {
                return vec![text.trim().to_string()];
            }
            // A word longer than a segment: cut by characters.
            let chars: Vec<char> = text.chars().collect();
            return chars.chunks(max).map(|c| c.iter().collect()).collect();
        }
        by(text, order[level])
            .into_iter()
            .flat_map(|p| go(&p, level + 1, max, order, by))
            .collect()
    }
    go(text, 0, max, &order, &by)
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect()
}

fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        current.push(*c);
        if matches!(c, '.' | '!' | '?') && chars.get(i + 1).is_none_or(|n| n.is_whitespace()) {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.trim().is_empty() {
        out.push(current);
    }
    out
}

/// The segments nearest `vector`, best first, with langchain4j's relevance score
/// ((cosine + 1) / 2) of at least `min`.
fn nearest(segments: &[Segment], vector: &[f32], max: usize, min: f64) -> Vec<(f64, Segment)> {
    let mut scored: Vec<(f64, Segment)> = segments
        .iter()
        .filter(|s| s.embedding.len() == vector.len())
        .map(|s| ((cosine(&s.embedding, vector) + 1.0) / 2.0, s.clone()))
        .filter(|(score, _)| *score >= min)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.truncate(max);
    scored
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut dot, mut na, mut nb) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (*x as f64, *y as f64);
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RetrieverConfiguration {
    max_results: Option<i64>,
    min_score: Option<f64>,
}

impl PropType for RetrieverConfiguration {
    const NAME: &'static str = "content retriever configuration";
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RagChatCompletion {
    /// The question.
    prompt: Property<String>,
    /// The system message.
    system_message: Option<Property<String>>,
    /// The chat model's provider.
    #[prop(secret)]
    chat_provider: Provider,
    /// The embedding model's provider (default: `chatProvider`).
    #[prop(secret)]
    embedding_provider: Option<Provider>,
    /// The embedding store to search: `{type: io.kestra.plugin.ai.embeddings.KestraKVStore, kvName}`.
    embeddings: Option<EmbeddingStore>,
    /// Web search retrievers (TavilyWebSearch).
    #[prop(secret)]
    content_retrievers: Option<Retrievers>,
    /// `maxResults` (default 3) and `minScore` (default 0.0) of the store's search.
    content_retriever_configuration: Option<RetrieverConfiguration>,
    /// `temperature`, `topP`, `seed`, `maxToken`...
    chat_configuration: Option<Configuration>,
    /// The conversation's memory (KestraKVStore).
    memory: Option<Memory>,
    /// Not supported by runner yet.
    #[prop(type = "list of tools")]
    tools: Option<Json>,
    /// Not supported by runner yet.
    #[prop(type = "guardrails")]
    guardrails: Option<Json>,
}

impl RunnableTask for RagChatCompletion {
    fn check(&self) -> Result<(), String> {
        if self.embeddings.is_none() && self.content_retrievers.is_none() {
            return Err("Either `embeddings` or `contentRetrievers` must be provided.".into());
        }
        refuse("tools", &self.tools)?;
        refuse("guardrails", &self.guardrails)
    }

    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let prompt = ctx.render(&self.prompt, "prompt")?;
            let chat = Chat::new(ctx, &self.chat_provider, self.chat_configuration.as_ref())?;
            let (max, min) = match &self.content_retriever_configuration {
                Some(c) => (c.max_results.unwrap_or(3), c.min_score.unwrap_or(0.0)),
                None => (3, 0.0),
            };
            let mut found: Vec<String> = Vec::new();
            let mut sources = Vec::new();
            if let Some(store) = &self.embeddings {
                let (property, embedder) = match &self.embedding_provider {
                    Some(p) => ("embeddingProvider", p),
                    None => ("chatProvider", &self.chat_provider),
                };
                let (_, segments) = store.load(ctx)?;
                let (vectors, _) = embedder
                    .embed(ctx, property, std::slice::from_ref(&prompt))
                    .await?;
                for (_, s) in nearest(&segments, &vectors[0], max.max(0) as usize, min) {
                    found.push(s.text.clone());
                    sources.push(json!({"content": s.text, "metadata": s.metadata}));
                }
            }
            for (i, r) in self
                .content_retrievers
                .iter()
                .flat_map(|r| r.0.iter())
                .enumerate()
            {
                for text in r.retrieve(ctx, i, &prompt).await? {
                    sources.push(json!({"content": text, "metadata": {}}));
                    found.push(text);
                }
            }
            let memory = match &self.memory {
                Some(m) => Some(m.open(ctx)?),
                None => None,
            };
            let mut messages = Vec::new();
            if let Some(s) = ctx.render_opt(&self.system_message, "systemMessage")? {
                messages.push(Message {
                    role: "system",
                    content: s,
                });
            }
            if let Some(m) = &memory {
                messages.extend(m.turns.iter().cloned());
            }
            messages.push(Message {
                role: "user",
                content: augment(&prompt, &found),
            });
            let answer = chat.call(ctx, &messages, &Ask::default()).await?;
            if let Some(m) = memory {
                m.save(ctx, &prompt, &answer.text)?;
            }
            provider::metrics(ctx, chat.provider(), &[&answer]);
            let json = if chat.answers_json() {
                Some(provider::json_reply(chat.provider(), &answer.text)?)
            } else {
                None
            };
            let mut out = provider::ai_output(&answer, json);
            out.insert(
                "completion".into(),
                out.get("textOutput").cloned().unwrap_or(Json::Null),
            );
            out.insert("sources".into(), Json::Array(sources));
            Ok(out)
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, PropType)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum FetchType {
    None,
    Fetch,
    FetchOne,
    Store,
}

#[derive(Deserialize, Properties)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Search {
    /// What to look for.
    query: Property<String>,
    /// The most segments to return.
    max_results: Property<i64>,
    /// The least relevance score ((cosine + 1) / 2) a segment needs.
    min_score: Property<f64>,
    /// The embedding model's provider.
    #[prop(secret)]
    provider: Provider,
    /// The embedding store: `{type: io.kestra.plugin.ai.embeddings.KestraKVStore, kvName}`.
    embeddings: EmbeddingStore,
    /// NONE (default), FETCH, FETCH_ONE or STORE.
    fetch_type: Option<Property<FetchType>>,
}

impl RunnableTask for Search {
    fn run<'a>(&'a self, ctx: &'a RunContext) -> BoxFuture<'a, Result<Outputs, TaskError>> {
        Box::pin(async move {
            let query = ctx.render(&self.query, "query")?;
            let max = ctx.render(&self.max_results, "maxResults")?.max(0) as usize;
            let min = ctx.render(&self.min_score, "minScore")?;
            let fetch = ctx
                .render_opt(&self.fetch_type, "fetchType")?
                .unwrap_or(FetchType::None);
            let mut out = Outputs::new();
            if fetch == FetchType::None {
                return Ok(out);
            }
            let (_, segments) = self.embeddings.load(ctx)?;
            let (vectors, _) = self
                .provider
                .embed(ctx, "provider", std::slice::from_ref(&query))
                .await?;
            let results: Vec<String> = nearest(&segments, &vectors[0], max, min)
                .into_iter()
                .map(|(_, s)| s.text)
                .collect();
            ctx.metric(Metric {
                name: "fetch.size".into(),
                kind: MetricKind::Counter,
                value: results.len() as f64,
                tags: Map::new(),
            });
            out.insert("size".into(), json!(results.len()));
            match fetch {
                FetchType::Fetch => {
                    out.insert("results".into(), json!(results));
                }
                FetchType::FetchOne => {
                    let first = results.into_iter().next().ok_or_else(|| {
                        TaskError::failed(format!("no segment of the store matches `{query}` with a score of at least {min}"))
                    })?;
                    out.insert("results".into(), json!([first]));
                }
                FetchType::Store => {
                    let uri =
                        ctx.output_file_uri(&format!("{}.ion", runner_core::ids::random_u64()));
                    let path = ctx.storage().path(&uri)?;
                    let partial = PartialFile::new(&path);
                    let mut text = String::new();
                    for r in &results {
                        // A JSON string is an Ion text string.
                        text.push_str(&Json::String(r.clone()).to_string());
                        text.push('\n');
                    }
                    use tokio::io::AsyncWriteExt;
                    let mut file = ctx.storage().create(&uri).await?;
                    file.write_all(text.as_bytes()).await.map_err(|e| {
                        TaskError::new(ErrorKind::Io, format!("cannot write {uri}")).caused_by(e)
                    })?;
                    partial.keep();
                    out.insert("uri".into(), json!(uri));
                }
                FetchType::None => {}
            }
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_split_into_segments_within_the_size_with_overlap() {
        let text = "Kestra runs flows. Flows are YAML.\n\nTasks are plugins. Each has a type.\nOutputs go to storage.";
        let parts = split(text, SplitterKind::Recursive, 40, 20);
        assert!(parts.iter().all(|p| p.chars().count() <= 40), "{parts:?}");
        assert_eq!(parts[0], "Kestra runs flows. Flows are YAML.");
        assert!(
            parts.iter().any(|p| p.contains("Tasks are plugins.")),
            "{parts:?}"
        );
        let words = split("a b c d e f", SplitterKind::Word, 5, 2);
        assert_eq!(words, ["a b c", "c d e", "e f"]);
        let long = split("abcdefghij", SplitterKind::Recursive, 4, 0);
        assert_eq!(long, ["abcd", "efgh", "ij"]);
    }

    #[test]
    fn the_nearest_segments_come_first_and_below_min_score_are_left_out() {
        let seg = |t: &str, e: Vec<f32>| Segment {
            text: t.into(),
            metadata: Map::new(),
            embedding: e,
        };
        let store = vec![
            seg("x", vec![1.0, 0.0]),
            seg("y", vec![0.0, 1.0]),
            seg("-x", vec![-1.0, 0.0]),
        ];
        let found = nearest(&store, &[0.9, 0.1], 2, 0.0);
        assert_eq!(
            found
                .iter()
                .map(|(_, s)| s.text.as_str())
                .collect::<Vec<_>>(),
            ["x", "y"]
        );
        assert!(
            nearest(&store, &[1.0, 0.0], 3, 0.9)
                .iter()
                .all(|(_, s)| s.text == "x")
        );
    }
}
