//! SLSA provenance (v1, and v0.2 as GitLab runners and npm wrote it) → typed fields, so
//! that policies judge the builder, the source and the runner without parsing each
//! platform's predicate shape (docs/claims.md#provenance).
//!
//! Only documented fields are read: GitHub's workflow build types
//! (actions.github.io/buildtypes/workflow/v1 and its slsa-framework predecessor, npm's
//! gha/v2), GitLab's runner build type (gitlab-runner PROVENANCE.md: `source`,
//! `entryPoint`, `variables`; `name`, `executor`, `architecture`, `job`). A field that is
//! absent or not a string is left out, never guessed: the statement is already verified
//! and bound to the artifact, this only names what it says.

use serde::Serialize;
use serde_json::Value;

pub const SLSA_V1: &str = "https://slsa.dev/provenance/v1";
pub const SLSA_V02: &str = "https://slsa.dev/provenance/v0.2";

/// The typed view of one SLSA provenance statement.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Provenance {
    /// `v1` or `v0.2`.
    pub slsa_version: &'static str,
    /// `gitlab`, `github` or `other`, from the build type.
    pub build_platform: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub builder_id: Option<String>,
    /// What was built: the repository, ref and commit the provenance names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// GitLab: the job's name; GitHub: the workflow file; v0.2: `configSource.entryPoint`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry_point: Option<String>,
    /// The CI configuration file (GitLab `CI_CONFIG_PATH`, GitHub's workflow path).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invocation_id: Option<String>,
    pub runner: Runner,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gitlab: Option<GitLabBuild>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github: Option<GitHubBuild>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Source {
    /// The repository URL, without `git+` and `@REF`.
    pub uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Its path on the host: `acme/app`, `org/repo`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
    /// `branch`, `tag` or `other`, with the ref's short name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ref_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ref_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Runner {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    /// `github-hosted`, `self-hosted`, `gitlab-hosted` where the provenance says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct GitLabBuild {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline_id: Option<String>,
    /// `CI_COMMIT_REF_PROTECTED` as a boolean (`"true"`/`"false"`); absent when unsaid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ref_protected: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline_source: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct GitHubBuild {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository_owner_id: Option<String>,
    /// The top-level workflow as the provenance names it (GitHub's build type: the
    /// workflow the run started from, in the source repository). A reusable workflow it
    /// called is not here: the signer's claims have that (`github.workflow_*`, the SAN).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_repository: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_ref: Option<String>,
}

fn text(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string)
}

/// A text field or, for ids, a number written as text.
fn text_or_number(v: &Value, pointer: &str) -> Option<String> {
    match v.pointer(pointer)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn platform_of(build_type: Option<&str>) -> &'static str {
    match build_type {
        Some(t)
            if t.starts_with("https://actions.github.io/buildtypes/")
                || t.starts_with("https://slsa-framework.github.io/github-actions-buildtypes/")
                || t.starts_with("https://github.com/npm/cli/gha/")
                || t.starts_with("https://github.com/slsa-framework/slsa-github-generator/") =>
        {
            "github"
        }
        Some(t) if t.starts_with("https://gitlab.com/gitlab-org/gitlab-runner/") || t.starts_with("https://docs.gitlab.com/") => "gitlab",
        _ => "other",
    }
}

/// `git+https://host/path@refs/heads/main` → (`https://host/path`, `refs/heads/main`).
fn split_uri(uri: &str) -> (String, Option<String>) {
    let uri = uri.strip_prefix("git+").unwrap_or(uri);
    match uri.rsplit_once("@refs/") {
        Some((repo, r)) => (repo.to_string(), Some(format!("refs/{r}"))),
        None => (uri.to_string(), None),
    }
}

fn source_of(uri: &str, git_ref: Option<String>, commit: Option<String>) -> Source {
    let (uri, in_uri) = split_uri(uri);
    let git_ref = git_ref.or(in_uri);
    let rest = uri.split_once("://").map(|(_, r)| r);
    let (host, repository) = match rest.and_then(|r| r.split_once('/')) {
        Some((host, path)) => {
            let path = path.trim_end_matches('/');
            let path = path.strip_suffix(".git").unwrap_or(path);
            (Some(host.to_ascii_lowercase()), (!path.is_empty()).then(|| path.to_string()))
        }
        None => (rest.map(str::to_ascii_lowercase), None),
    };
    let (ref_type, ref_name) = match git_ref.as_deref() {
        Some(r) => {
            let (t, n) = super::ref_type_and_name(r);
            (Some(t), Some(n))
        }
        None => (None, None),
    };
    Source { uri, host, repository, git_ref, ref_type, ref_name, commit }
}

/// The commit a digest set names (git commit ids are sha1, written under several keys).
fn commit_of(digest: Option<&Value>) -> Option<String> {
    let d = digest?;
    ["gitCommit", "sha1", "sha256"].iter().find_map(|k| text(d, &format!("/{k}")))
}

/// The ref GitLab's variables name: a tag, else a branch.
fn gitlab_ref(vars: &Value) -> Option<String> {
    text(vars, "/CI_COMMIT_TAG")
        .map(|t| format!("refs/tags/{t}"))
        .or_else(|| text(vars, "/CI_COMMIT_BRANCH").map(|b| format!("refs/heads/{b}")))
}

fn gitlab_build(vars: &Value, job: Option<String>) -> GitLabBuild {
    GitLabBuild {
        job_id: job.or_else(|| text_or_number(vars, "/CI_JOB_ID")),
        pipeline_id: text_or_number(vars, "/CI_PIPELINE_ID"),
        ref_protected: match vars.pointer("/CI_COMMIT_REF_PROTECTED") {
            Some(Value::String(s)) if s == "true" => Some(true),
            Some(Value::String(s)) if s == "false" => Some(false),
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        },
        project_path: text(vars, "/CI_PROJECT_PATH"),
        pipeline_source: text(vars, "/CI_PIPELINE_SOURCE"),
    }
}

/// `owner/repo/.github/workflows/x.yml@refs/heads/main` → (owner/repo, path, ref).
fn github_workflow_ref(s: &str) -> (Option<String>, Option<String>, Option<String>) {
    let (path, r) = match s.split_once('@') {
        Some((p, r)) => (p, Some(r.to_string())),
        None => (s, None),
    };
    let mut parts = path.splitn(3, '/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(o), Some(n), Some(p)) => (Some(format!("{o}/{n}")), Some(p.to_string()), r),
        _ => (None, None, r),
    }
}

impl Provenance {
    /// The typed view of a statement, when its predicate type is SLSA provenance.
    pub fn from_statement(predicate_type: &str, statement: &Value) -> Option<Self> {
        let p = statement.get("predicate")?;
        match predicate_type {
            SLSA_V1 => Some(Self::v1(p)),
            SLSA_V02 => Some(Self::v02(p)),
            _ => None,
        }
    }

    fn v1(p: &Value) -> Self {
        let build_type = text(p, "/buildDefinition/buildType");
        let build_platform = platform_of(build_type.as_deref());
        let ext = p.pointer("/buildDefinition/externalParameters").cloned().unwrap_or(Value::Null);
        let int = p.pointer("/buildDefinition/internalParameters").cloned().unwrap_or(Value::Null);
        let deps: &[Value] = p.pointer("/buildDefinition/resolvedDependencies").and_then(Value::as_array).map_or(&[], |v| v.as_slice());
        // The dependency that is the source: the one whose URI names the repository.
        let dep_commit = |repo: &str| {
            deps.iter()
                .find(|d| d.get("uri").and_then(Value::as_str).is_some_and(|u| split_uri(u).0 == repo))
                .and_then(|d| commit_of(d.get("digest")))
        };
        let mut out = Provenance {
            slsa_version: "v1",
            build_platform,
            builder_id: text(p, "/runDetails/builder/id"),
            invocation_id: text(p, "/runDetails/metadata/invocationId").or_else(|| text(p, "/runDetails/metadata/invocationID")),
            build_type,
            ..Default::default()
        };
        match build_platform {
            "github" => {
                let repo = text(&ext, "/workflow/repository");
                let git_ref = text(&ext, "/workflow/ref");
                out.source = repo.as_deref().map(|r| source_of(r, git_ref.clone(), dep_commit(split_uri(r).0.as_str())));
                out.entry_point = text(&ext, "/workflow/path");
                out.config_path = out.entry_point.clone();
                out.runner.environment = text(&int, "/github/runner_environment").or_else(|| {
                    out.builder_id
                        .as_deref()
                        .and_then(|b| b.rsplit('/').next())
                        .filter(|e| *e == "github-hosted" || *e == "self-hosted")
                        .map(str::to_string)
                });
                out.github = Some(GitHubBuild {
                    event_name: text(&int, "/github/event_name"),
                    repository_id: text_or_number(&int, "/github/repository_id"),
                    repository_owner_id: text_or_number(&int, "/github/repository_owner_id"),
                    workflow_repository: out.source.as_ref().and_then(|s| s.repository.clone()),
                    workflow_path: out.entry_point.clone(),
                    workflow_ref: git_ref,
                });
            }
            "gitlab" => {
                let vars = ext.get("variables").cloned().unwrap_or(Value::Null);
                let repo = text(&ext, "/source");
                out.source = repo.as_deref().map(|r| {
                    let commit = dep_commit(split_uri(r).0.as_str()).or_else(|| text(&vars, "/CI_COMMIT_SHA"));
                    source_of(r, gitlab_ref(&vars), commit)
                });
                out.entry_point = text(&ext, "/entryPoint");
                out.config_path = text(&vars, "/CI_CONFIG_PATH");
                out.runner = Runner {
                    name: text(&int, "/name"),
                    executor: text(&int, "/executor"),
                    architecture: text(&int, "/architecture"),
                    environment: None,
                };
                out.gitlab = Some(gitlab_build(&vars, text_or_number(&int, "/job")));
            }
            _ => {
                // Another builder: the first resolved dependency is, by SLSA's convention,
                // the source.
                out.source = deps.first().and_then(|d| {
                    let uri = d.get("uri").and_then(Value::as_str)?;
                    Some(source_of(uri, None, commit_of(d.get("digest"))))
                });
            }
        }
        out
    }

    fn v02(p: &Value) -> Self {
        let build_type = text(p, "/buildType");
        let build_platform = platform_of(build_type.as_deref());
        let config = p.pointer("/invocation/configSource").cloned().unwrap_or(Value::Null);
        let env = p.pointer("/invocation/environment").cloned().unwrap_or(Value::Null);
        let params = p.pointer("/invocation/parameters").cloned().unwrap_or(Value::Null);
        let mut out = Provenance {
            slsa_version: "v0.2",
            build_platform,
            builder_id: text(p, "/builder/id"),
            invocation_id: text(p, "/metadata/buildInvocationId").or_else(|| text(p, "/metadata/buildInvocationID")),
            entry_point: text(&config, "/entryPoint"),
            build_type,
            ..Default::default()
        };
        let config_uri = text(&config, "/uri");
        let config_commit = commit_of(config.get("digest"));
        match build_platform {
            "gitlab" => {
                out.source = config_uri.as_deref().map(|u| source_of(u, gitlab_ref(&params), config_commit.clone()));
                out.config_path = text(&params, "/CI_CONFIG_PATH");
                out.runner = Runner {
                    name: text(&env, "/name"),
                    executor: text(&env, "/executor"),
                    architecture: text(&env, "/architecture"),
                    environment: None,
                };
                out.gitlab = Some(gitlab_build(&params, None));
            }
            _ => {
                out.source = config_uri.as_deref().map(|u| source_of(u, None, config_commit.clone()));
                if build_platform == "github" {
                    let (workflow_repository, workflow_path, workflow_ref) =
                        text(&env, "/GITHUB_WORKFLOW_REF").as_deref().map(github_workflow_ref).unwrap_or_default();
                    out.config_path = workflow_path.clone().or_else(|| out.entry_point.clone());
                    out.github = Some(GitHubBuild {
                        event_name: text(&env, "/GITHUB_EVENT_NAME"),
                        repository_id: text_or_number(&env, "/GITHUB_REPOSITORY_ID"),
                        repository_owner_id: text_or_number(&env, "/GITHUB_REPOSITORY_OWNER_ID"),
                        workflow_repository,
                        workflow_path,
                        workflow_ref,
                    });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn gitlab_v1_as_the_runner_documents_it() {
        let statement = json!({"predicate": {
            "buildDefinition": {
                "buildType": "https://gitlab.com/gitlab-org/gitlab-runner/-/blob/v17.0.0/PROVENANCE.md",
                "externalParameters": {"source": "https://gitlab.com/acme/app", "entryPoint": "build",
                    "variables": {"CI_COMMIT_TAG": "v1.2.3", "CI_COMMIT_REF_PROTECTED": "true", "CI_PIPELINE_ID": "77",
                                  "CI_CONFIG_PATH": ".gitlab-ci.yml", "CI_COMMIT_SHA": "abc"}},
                "internalParameters": {"name": "green-1", "executor": "docker", "architecture": "amd64", "job": "991"},
                "resolvedDependencies": [{"uri": "https://gitlab.com/acme/app", "digest": {"sha256": "def"}}]},
            "runDetails": {"builder": {"id": "https://gitlab.com/acme/app/-/runners/12"}, "metadata": {"invocationID": "991"}}}});
        let p = Provenance::from_statement(SLSA_V1, &statement).unwrap();
        assert_eq!(p.build_platform, "gitlab");
        let s = p.source.as_ref().unwrap();
        assert_eq!(
            (s.repository.as_deref(), s.git_ref.as_deref(), s.ref_type.as_deref()),
            (Some("acme/app"), Some("refs/tags/v1.2.3"), Some("tag"))
        );
        assert_eq!(s.commit.as_deref(), Some("def"), "the resolved dependency wins over the variable");
        assert_eq!(p.runner.executor.as_deref(), Some("docker"));
        let g = p.gitlab.unwrap();
        assert_eq!((g.job_id.as_deref(), g.pipeline_id.as_deref(), g.ref_protected), (Some("991"), Some("77"), Some(true)));
        assert_eq!(p.config_path.as_deref(), Some(".gitlab-ci.yml"));
    }

    #[test]
    fn odd_shapes_are_left_out_not_guessed() {
        let statement = json!({"predicate": {"buildDefinition": {"buildType": 7, "externalParameters": "x", "resolvedDependencies": {"a": 1}},
                                              "runDetails": {"builder": {"id": ["x"]}}}});
        let p = Provenance::from_statement(SLSA_V1, &statement).unwrap();
        assert_eq!((p.build_platform, p.builder_id, p.source), ("other", None, None));
        assert!(Provenance::from_statement("https://example.com/other", &statement).is_none());
        assert!(Provenance::from_statement(SLSA_V1, &json!({"predicate": null})).is_some());
        assert!(Provenance::from_statement(SLSA_V1, &json!({})).is_none());
        assert_eq!(github_workflow_ref("o/r/.github/workflows/x.yml@refs/heads/main").1.as_deref(), Some(".github/workflows/x.yml"));
        assert_eq!(split_uri("git+https://h/o/r@refs/tags/v1"), ("https://h/o/r".to_string(), Some("refs/tags/v1".to_string())));
    }
}
