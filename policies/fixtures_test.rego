# Test fixtures: claims as vouch builds them (see docs/claims.md).
package vouch.fixtures

gitlab_claims := {
	"issuer": "https://gitlab.com",
	"identity": {"type": "uri", "value": "https://gitlab.com/acme/app//.gitlab-ci.yml@refs/heads/main"},
	"platform": "gitlab",
	"gitlab": {
		"instance": "https://gitlab.com",
		"project_path": "acme/app",
		"namespace": "acme",
		"project_id": "1001",
		"namespace_id": "2002",
		"ref": "refs/heads/main",
		"ref_type": "branch",
		"ref_name": "main",
		"ci_config_project_path": "acme/app",
		"ci_config_path": ".gitlab-ci.yml",
		"ci_config_ref": "refs/heads/main",
	},
	"runner_environment": "gitlab-hosted",
	"source_repository_digest": "c0ffee0000000000000000000000000000000000",
	"signed_at": "2026-01-10T12:00:00Z",
}

gitlab_sig := {"kind": "message", "claims": gitlab_claims}

# gitlab_with(patch): the GitLab signature with fields of claims.gitlab replaced.
gitlab_with(patch) := {"kind": "message", "claims": object.union(gitlab_claims, {"gitlab": object.union(gitlab_claims.gitlab, patch)})}

# claims_with(patch): the GitLab signature with top-level claims replaced.
claims_with(patch) := {"kind": "message", "claims": object.union(gitlab_claims, patch)}

github_claims := {
	"issuer": "https://token.actions.githubusercontent.com",
	"identity": {"type": "uri", "value": "https://github.com/org/app/.github/workflows/release.yml@refs/tags/v1.2.3"},
	"platform": "github",
	"github": {
		"host": "github.com",
		"repository": "org/app",
		"owner": "org",
		"repository_id": "123",
		"owner_id": "456",
		"ref": "refs/tags/v1.2.3",
		"ref_type": "tag",
		"ref_name": "v1.2.3",
		"workflow_repository": "org/app",
		"workflow_path": ".github/workflows/release.yml",
		"workflow_ref": "refs/tags/v1.2.3",
	},
	"runner_environment": "github-hosted",
	"source_repository_digest": "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3",
	"signed_at": "2026-01-10T12:00:00Z",
}

github_with(patch) := {"kind": "message", "claims": object.union(github_claims, {"github": object.union(github_claims.github, patch)})}

key_sig := {"kind": "message", "claims": null, "key_fingerprint_sha256": "abc123"}

# input_of(signatures): every signer accepted.
input_of(sigs) := input_accepting(sigs, numbers.range(0, count(sigs) - 1))

# input_accepting(signatures, indices): only the signers of signatures[i], i in indices,
# are accepted (as vouch marks them after asking the configured signer policies).
input_accepting(sigs, accepted) := {
	"subject": {"kind": "blob", "name": "app.tar.gz", "digest": {"sha256": "00"}},
	"signatures": [object.union(s, {"signer_accepted": i in accepted}) | some i, s in sigs],
	"attestations": [a |
		some i, s in sigs
		s.kind == "dsse"
		a := {"predicate_type": s.predicate_type, "statement": s.statement, "provenance": object.get(s, "provenance", null), "claims": s.claims, "signature": i, "signer_accepted": i in accepted}
	],
	"verification_errors": [],
	"context": {"effective_time": "2026-01-20T12:00:00Z", "shard": "1/1"},
}

codes(findings) := {f.code | some f in findings}
