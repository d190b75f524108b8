//! Who the minted certificate says signed: the SAN and every Fulcio extension, with
//! presets that write what GitLab CI and GitHub Actions put into real certificates.

/// A Fulcio extension value, by arc under 1.3.6.1.4.1.57264.1.
#[derive(Debug, Clone)]
pub enum ExtValue {
    /// v2 form (.8 and later): a DER UTF8String.
    Der(String),
    /// v1 form (.1–.6): the raw bytes of the string.
    Raw(String),
    /// Anything, for broken-certificate tests.
    Bytes(Vec<u8>),
}

#[derive(Debug, Clone)]
pub enum San {
    Uri(String),
    Email(String),
    /// Fulcio's username SAN (otherName 1.3.6.1.4.1.57264.1.7).
    OtherName(String),
}

impl San {
    pub fn value(&self) -> &str {
        match self {
            San::Uri(v) | San::Email(v) | San::OtherName(v) => v,
        }
    }
}

/// The identity claims of a certificate.
#[derive(Debug, Clone)]
pub struct CertIdentity {
    pub san: San,
    pub issuer: String,
    /// Extensions by arc number (1.3.6.1.4.1.57264.1.N), written in this order.
    pub extensions: Vec<(u32, ExtValue)>,
}

impl CertIdentity {
    pub fn identity(&self) -> &str {
        self.san.value()
    }

    /// Set (or replace) one extension.
    pub fn with_extension(mut self, arc: u32, value: ExtValue) -> Self {
        self.extensions.retain(|(a, _)| *a != arc);
        self.extensions.push((arc, value));
        self
    }

    pub fn without_extension(mut self, arc: u32) -> Self {
        self.extensions.retain(|(a, _)| *a != arc);
        self
    }

    /// A person signing with an email identity.
    pub fn email(email: &str, issuer: &str) -> Self {
        CertIdentity {
            san: San::Email(email.into()),
            issuer: issuer.into(),
            extensions: vec![(1, ExtValue::Raw(issuer.into())), (8, ExtValue::Der(issuer.into()))],
        }
    }
}

/// A GitLab CI job, as GitLab's ID token and Fulcio's GitLab provider describe it.
#[derive(Debug, Clone)]
pub struct GitLab {
    /// `https://gitlab.com` or a self-managed instance URL; also the OIDC issuer.
    pub instance: String,
    /// The project whose pipeline (and CI config) ran: `ci_config_ref_uri`.
    pub project: String,
    pub ci_config_path: String,
    pub git_ref: String,
    /// The project whose code was built (`project_path`); differs for fork MRs.
    pub source_project: Option<String>,
    pub commit_sha: String,
    pub project_id: u64,
    pub namespace_id: u64,
    pub runner_environment: String,
    pub pipeline_source: String,
    pub job_id: u64,
    pub visibility: String,
}

impl Default for GitLab {
    fn default() -> Self {
        GitLab {
            instance: "https://gitlab.com".into(),
            project: "acme/app".into(),
            ci_config_path: ".gitlab-ci.yml".into(),
            git_ref: "refs/heads/main".into(),
            source_project: None,
            commit_sha: "1f0c8a0d1e9b2f6c5a4b3c2d1e0f9a8b7c6d5e4f".into(),
            project_id: 55235664,
            namespace_id: 12885801,
            runner_environment: "gitlab-hosted".into(),
            pipeline_source: "push".into(),
            job_id: 8415754949,
            visibility: "private".into(),
        }
    }
}

impl GitLab {
    pub fn san(&self) -> String {
        format!("{}/{}//{}@{}", self.instance, self.project, self.ci_config_path, self.git_ref)
    }

    pub fn identity(&self) -> CertIdentity {
        let i = &self.instance;
        let source = self.source_project.as_deref().unwrap_or(&self.project);
        let namespace = source.rsplit_once('/').map_or(source, |(ns, _)| ns);
        let san = self.san();
        let d = |s: String| ExtValue::Der(s);
        CertIdentity {
            san: San::Uri(san.clone()),
            issuer: i.clone(),
            extensions: vec![
                (1, ExtValue::Raw(i.clone())),
                (8, d(i.clone())),
                (9, d(san.clone())),
                (10, d(self.commit_sha.clone())),
                (11, d(self.runner_environment.clone())),
                (12, d(format!("{i}/{source}"))),
                (13, d(self.commit_sha.clone())),
                (14, d(self.git_ref.clone())),
                (15, d(self.project_id.to_string())),
                (16, d(format!("{i}/{namespace}"))),
                (17, d(self.namespace_id.to_string())),
                (18, d(san)),
                (19, d(self.commit_sha.clone())),
                (20, d(self.pipeline_source.clone())),
                (21, d(format!("{i}/{}/-/jobs/{}", self.project, self.job_id))),
                (22, d(self.visibility.clone())),
            ],
        }
    }
}

/// A GitHub Actions job.
#[derive(Debug, Clone)]
pub struct GitHub {
    pub repository: String,
    /// The repository holding the workflow that ran (reusable workflows differ).
    pub workflow_repository: Option<String>,
    pub workflow_path: String,
    pub git_ref: String,
    pub workflow_ref: Option<String>,
    pub sha: String,
    pub repository_id: u64,
    pub owner_id: u64,
    pub event_name: String,
    pub runner_environment: String,
}

impl Default for GitHub {
    fn default() -> Self {
        GitHub {
            repository: "org/app".into(),
            workflow_repository: None,
            workflow_path: ".github/workflows/release.yml".into(),
            git_ref: "refs/heads/main".into(),
            workflow_ref: None,
            sha: "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3".into(),
            repository_id: 123456789,
            owner_id: 987654,
            event_name: "push".into(),
            runner_environment: "github-hosted".into(),
        }
    }
}

pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";

impl GitHub {
    pub fn san(&self) -> String {
        format!(
            "https://github.com/{}/{}@{}",
            self.workflow_repository.as_deref().unwrap_or(&self.repository),
            self.workflow_path,
            self.workflow_ref.as_deref().unwrap_or(&self.git_ref)
        )
    }

    pub fn identity(&self) -> CertIdentity {
        let san = self.san();
        let owner = self.repository.split('/').next().unwrap_or_default();
        let d = |s: String| ExtValue::Der(s);
        let r = |s: String| ExtValue::Raw(s);
        CertIdentity {
            san: San::Uri(san.clone()),
            issuer: GITHUB_ISSUER.into(),
            extensions: vec![
                (1, r(GITHUB_ISSUER.into())),
                (2, r(self.event_name.clone())),
                (3, r(self.sha.clone())),
                (5, r(self.repository.clone())),
                (6, r(self.git_ref.clone())),
                (8, d(GITHUB_ISSUER.into())),
                (9, d(san.clone())),
                (10, d(self.sha.clone())),
                (11, d(self.runner_environment.clone())),
                (12, d(format!("https://github.com/{}", self.repository))),
                (13, d(self.sha.clone())),
                (14, d(self.git_ref.clone())),
                (15, d(self.repository_id.to_string())),
                (16, d(format!("https://github.com/{owner}"))),
                (17, d(self.owner_id.to_string())),
                (18, d(san)),
                (19, d(self.sha.clone())),
                (20, d(self.event_name.clone())),
                (21, d(format!("https://github.com/{}/actions/runs/1/attempts/1", self.repository))),
                (22, d("public".into())),
            ],
        }
    }
}
