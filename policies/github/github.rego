# GitHub Actions signers: which repositories, workflows, refs and runners may ship.
#
#   config:
#     github:
#       repositories: [org/app]                # source repositories (globs); required
#       workflow_repositories: [org/app]       # where the workflow lives; default: repositories
#                                              # (list org/shared-workflows for reusable workflows)
#       workflow_paths: [.github/workflows/release.yml]   # globs
#       repository_ids: ["123456789"]          # pin numeric ids
#       owner_ids: ["987654"]
#       refs: {branches: [main], tags: ["v*"], semver_tags: true}   # required (or any_ref: true)
#       runner_environments: [github-hosted]   # default: [github-hosted]
#       hosts: [github.com]                    # default: [github.com]; GHE.com tenants, GHES hosts
#
# Checked against config.schema.json at load. `accepted` lists the signatures that meet
# every requirement: attestations count only when their signer is accepted.
package vouch.github

import data.vouch.lib

cfg := data.config.github

workflow_repositories := object.get(cfg, "workflow_repositories", cfg.repositories)

runner_environments := object.get(cfg, "runner_environments", ["github-hosted"])

hosts := object.get(cfg, "hosts", ["github.com"])

violation contains [i, "github.config", "config.github.repositories is required: list the repositories that may ship"] if {
	cfg
	some i, _ in input.signatures
	not cfg.repositories
}

violation contains [i, "github.not_github", msg] if {
	cfg
	some i, s in input.signatures
	not s.claims.github
	msg := sprintf("signature %d is not from GitHub Actions: %s", [i, lib.signer(s)])
}

# Claims carry the host of the issuer that signed (github.com, a GHE.com tenant, GHES).
violation contains [i, "github.host", msg] if {
	cfg
	some i, s in input.signatures
	s.claims.github
	not s.claims.github.host in hosts
	msg := sprintf("GitHub host %s is not allowed (allowed: %s)", [object.get(s.claims.github, "host", "none"), concat(", ", hosts)])
}

violation contains [i, "github.repository", msg] if {
	cfg
	some i, s in input.signatures
	not lib.any_glob_match(cfg.repositories, s.claims.github.repository)
	msg := sprintf("source repository %s is not allowed (allowed: %s)", [s.claims.github.repository, concat(", ", cfg.repositories)])
}

violation contains [i, "github.workflow_repository", msg] if {
	cfg
	some i, s in input.signatures
	not lib.any_glob_match(workflow_repositories, s.claims.github.workflow_repository)
	msg := sprintf("a workflow of %s ran; allowed: %s", [s.claims.github.workflow_repository, concat(", ", workflow_repositories)])
}

violation contains [i, "github.workflow_path", msg] if {
	cfg
	some i, s in input.signatures
	cfg.workflow_paths
	not lib.any_glob_match(cfg.workflow_paths, s.claims.github.workflow_path)
	msg := sprintf("workflow %s is not allowed (allowed: %s)", [s.claims.github.workflow_path, concat(", ", cfg.workflow_paths)])
}

violation contains [i, "github.repository_id", msg] if {
	cfg
	some i, s in input.signatures
	cfg.repository_ids
	not s.claims.github.repository_id in {sprintf("%v", [id]) | some id in cfg.repository_ids}
	msg := sprintf("repository id %s of %s is not pinned (expected %s): renamed or re-created repository?", [object.get(s.claims.github, "repository_id", "none"), s.claims.github.repository, concat(", ", [sprintf("%v", [id]) | some id in cfg.repository_ids])])
}

violation contains [i, "github.owner_id", msg] if {
	cfg
	some i, s in input.signatures
	cfg.owner_ids
	not s.claims.github.owner_id in {sprintf("%v", [id]) | some id in cfg.owner_ids}
	msg := sprintf("owner id %s of %s is not pinned (expected %s)", [object.get(s.claims.github, "owner_id", "none"), s.claims.github.owner, concat(", ", [sprintf("%v", [id]) | some id in cfg.owner_ids])])
}

# Absent refs never mean "any ref": that takes `any_ref: true`.
violation contains [i, "github.ref", msg] if {
	cfg
	some i, s in input.signatures
	not cfg.any_ref == true
	not lib.ref_allowed(cfg.refs, s.claims.github.ref_type, s.claims.github.ref_name)
	msg := sprintf("ref %s may not ship (%s)", [s.claims.github.ref, lib.refs_rule(object.get(cfg, "refs", {}))])
}

violation contains [i, "github.runner", msg] if {
	cfg
	some i, s in input.signatures
	s.claims.github
	not object.get(s.claims, "runner_environment", "none") in runner_environments
	msg := sprintf("built on a %s runner; required: %s", [object.get(s.claims, "runner_environment", "unknown"), concat(", ", runner_environments)])
}

# The signatures that meet every requirement (indices into input.signatures).
accepted contains i if {
	cfg
	some i, _ in input.signatures
	not has_violation(i)
}

has_violation(i) if {
	some v in violation
	v[0] == i
}

deny contains {"msg": msg, "code": code, "title": "GitHub signer not allowed", "solution": "sign from an allowed repository, workflow, ref and runner, or update config.github"} if {
	cfg # inactive without its configuration
	count(input.signatures) > 0
	count(accepted) == 0
	some [_, code, msg] in violation
}
