package vouch.github_test

import data.vouch.fixtures as f
import data.vouch.github

cfg := {"repositories": ["org/app"], "refs": {"tags": ["v*"], "semver_tags": true}, "workflow_paths": [".github/workflows/release.yml"]}

deny_codes(sigs, config) := codes if {
	denials := github.deny with input as f.input_of(sigs) with data.config.github as config
	codes := f.codes(denials)
}

any_denial if {
	some _ in github.deny
}

test_release_tag_passes if {
	not any_denial with input as f.input_of([f.github_with({})]) with data.config.github as cfg
}

test_inactive_without_config if {
	not any_denial with input as f.input_of([f.gitlab_sig]) with data.config as {}
}

test_repositories_are_required if {
	deny_codes([f.github_with({})], {"runner_environments": ["github-hosted"], "any_ref": true}) == {"github.config"}
}

test_other_repository_denied if {
	deny_codes([f.github_with({"repository": "evil/app"})], cfg) == {"github.repository"}
}

test_reusable_workflow_must_be_allowed if {
	reusable := f.github_with({"workflow_repository": "org/shared-workflows"})
	deny_codes([reusable], cfg) == {"github.workflow_repository"}
	not any_denial with input as f.input_of([reusable]) with data.config.github as object.union(cfg, {"workflow_repositories": ["org/shared-workflows"]})
}

test_workflow_path if {
	deny_codes([f.github_with({"workflow_path": ".github/workflows/ci.yml"})], cfg) == {"github.workflow_path"}
}

test_id_pinning if {
	deny_codes([f.github_with({})], object.union(cfg, {"repository_ids": ["999"], "owner_ids": [1]})) == {"github.repository_id", "github.owner_id"}
	not any_denial with input as f.input_of([f.github_with({})]) with data.config.github as object.union(cfg, {"repository_ids": [123], "owner_ids": ["456"]})
}

test_branch_not_allowed if {
	deny_codes([f.github_with({"ref": "refs/heads/main", "ref_type": "branch", "ref_name": "main"})], cfg) == {"github.ref"}
}

test_self_hosted_runner_denied if {
	sig := {"kind": "message", "claims": object.union(f.github_claims, {"runner_environment": "self-hosted"})}
	deny_codes([sig], cfg) == {"github.runner"}
}

test_gitlab_signer_denied if {
	"github.not_github" in deny_codes([f.gitlab_sig], cfg)
}

test_host_must_be_allowed if {
	ghe := f.github_with({"host": "acme.ghe.com"})
	deny_codes([ghe], cfg) == {"github.host"}
	not any_denial with input as f.input_of([ghe]) with data.config.github as object.union(cfg, {"hosts": ["acme.ghe.com"]})
}

test_refs_absent_means_no_ref if {
	deny_codes([f.github_with({})], {"repositories": ["org/app"]}) == {"github.ref"}
	not any_denial with input as f.input_of([f.github_with({})]) with data.config.github as {"repositories": ["org/app"], "any_ref": true}
}

test_accepted if {
	github.accepted == {0} with input as f.input_of([f.github_with({}), f.gitlab_sig]) with data.config.github as cfg
}
