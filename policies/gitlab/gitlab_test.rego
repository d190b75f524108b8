package vouch.gitlab_test

import data.vouch.fixtures as f
import data.vouch.gitlab

cfg := {"projects": ["acme/*"], "refs": {"branches": ["main", "release/*"], "tags": ["v*"], "semver_tags": true}}

deny_codes(sigs, config) := codes if {
	denials := gitlab.deny with input as f.input_of(sigs) with data.config.gitlab as config
	codes := f.codes(denials)
}

tag(name) := f.gitlab_with({"ref": concat("", ["refs/tags/", name]), "ref_type": "tag", "ref_name": name})

test_allowed_project_on_main_passes if {
	count(gitlab.deny) == 0 with input as f.input_of([f.gitlab_sig]) with data.config.gitlab as cfg
}

test_no_config_means_inactive if {
	not any_denial with input as f.input_of([f.github_with({})]) with data.config as {}
}

any_denial if {
	some _ in gitlab.deny
}

test_projects_are_required if {
	deny_codes([f.gitlab_sig], {"refs": {"branches": ["main"]}}) == {"gitlab.config"}
}

test_other_project_is_denied_naming_it if {
	denials := gitlab.deny with input as f.input_of([f.gitlab_with({"project_path": "evil/app", "ci_config_project_path": "evil/app"})]) with data.config.gitlab as cfg
	f.codes(denials) == {"gitlab.project", "gitlab.ci_config_project"}
	some d in denials
	contains(d.msg, "source project evil/app is not allowed")
}

test_fork_merge_request_is_denied if {
	fork := f.gitlab_with({"project_path": "mallory/app-fork", "namespace": "mallory", "ref": "refs/merge-requests/7/head", "ref_type": "other", "ref_name": "refs/merge-requests/7/head"})
	denials := gitlab.deny with input as f.input_of([fork]) with data.config.gitlab as {"projects": ["acme/*", "mallory/*"], "any_ref": true}
	f.codes(denials) == {"gitlab.fork"}
	some d in denials
	contains(d.msg, "ran for code from another project, mallory/app-fork")
}

test_fork_pipelines_can_be_allowed if {
	fork := f.gitlab_with({"project_path": "acme/app-fork"})
	count(gitlab.deny) == 0 with input as f.input_of([fork]) with data.config.gitlab as {"projects": ["acme/*"], "allow_fork_pipelines": true, "refs": {"branches": ["main"]}}
}

test_ci_config_project_judged_separately if {
	other_config := f.gitlab_with({"ci_config_project_path": "acme/ci-templates"})
	"gitlab.ci_config_project" in deny_codes([other_config], {"projects": ["acme/app"], "allow_fork_pipelines": true, "any_ref": true})
	count(gitlab.deny) == 0 with input as f.input_of([other_config]) with data.config.gitlab as {"projects": ["acme/app"], "ci_config_projects": ["acme/app", "acme/ci-templates"], "allow_fork_pipelines": true, "any_ref": true}
}

test_instance_must_be_allowed if {
	sm := f.gitlab_with({"instance": "https://gitlab.example.com"})
	deny_codes([sm], cfg) == {"gitlab.instance"}
	count(gitlab.deny) == 0 with input as f.input_of([sm]) with data.config.gitlab as object.union(cfg, {"instances": ["https://gitlab.example.com"]})
}

test_project_id_pinning if {
	deny_codes([f.gitlab_sig], object.union(cfg, {"project_ids": ["9999"]})) == {"gitlab.project_id"}
	count(gitlab.deny) == 0 with input as f.input_of([f.gitlab_sig]) with data.config.gitlab as object.union(cfg, {"project_ids": [1001]})
}

test_namespace_id_pinning if {
	deny_codes([f.gitlab_sig], object.union(cfg, {"namespace_ids": ["1"]})) == {"gitlab.namespace_id"}
	count(gitlab.deny) == 0 with input as f.input_of([f.gitlab_sig]) with data.config.gitlab as object.union(cfg, {"namespace_ids": ["2002"]})
}

test_ci_config_path_pinned if {
	deny_codes([f.gitlab_with({"ci_config_path": "other.yml"})], object.union(cfg, {"ci_config_paths": [".gitlab-ci.yml"]})) == {"gitlab.ci_config_path"}
	count(gitlab.deny) == 0 with input as f.input_of([f.gitlab_sig]) with data.config.gitlab as object.union(cfg, {"ci_config_paths": [".gitlab-ci.yml"]})
}

test_branches if {
	count(gitlab.deny) == 0 with input as f.input_of([f.gitlab_with({"ref": "refs/heads/release/1.x", "ref_name": "release/1.x"})]) with data.config.gitlab as cfg
	denials := gitlab.deny with input as f.input_of([f.gitlab_with({"ref": "refs/heads/feature/x", "ref_name": "feature/x"})]) with data.config.gitlab as cfg
	f.codes(denials) == {"gitlab.ref"}
	some d in denials
	contains(d.msg, "ref refs/heads/feature/x may not ship (branches: main, release/*; tags: v* (semantic versions))")
}

test_semver_tags if {
	count(gitlab.deny) == 0 with input as f.input_of([tag("v1.2.3")]) with data.config.gitlab as cfg
	deny_codes([tag("v1.2")], cfg) == {"gitlab.ref"}
	deny_codes([tag("vnext")], cfg) == {"gitlab.ref"}
	count(gitlab.deny) == 0 with input as f.input_of([tag("1.0.0")]) with data.config.gitlab as {"projects": ["acme/*"], "refs": {"semver_tags": true}}
}

test_tag_globs_without_semver if {
	tag := f.gitlab_with({"ref": "refs/tags/release-7", "ref_type": "tag", "ref_name": "release-7"})
	count(gitlab.deny) == 0 with input as f.input_of([tag]) with data.config.gitlab as {"projects": ["acme/*"], "refs": {"tags": ["release-*"]}}
	deny_codes([tag], {"projects": ["acme/*"], "refs": {"branches": ["main"]}}) == {"gitlab.ref"}
}

test_other_refs_may_not_ship if {
	mr := f.gitlab_with({"ref": "refs/merge-requests/1/head", "ref_type": "other", "ref_name": "refs/merge-requests/1/head"})
	deny_codes([mr], cfg) == {"gitlab.ref"}
}

test_runner_environment if {
	self_hosted := f.claims_with({"runner_environment": "self-hosted"})
	denials := gitlab.deny with input as f.input_of([self_hosted]) with data.config.gitlab as cfg
	f.codes(denials) == {"gitlab.runner"}
	some d in denials
	d.msg == "built on a self-hosted runner; required: gitlab-hosted"
	count(gitlab.deny) == 0 with input as f.input_of([self_hosted]) with data.config.gitlab as object.union(cfg, {"runner_environments": ["gitlab-hosted", "self-hosted"]})
}

test_non_gitlab_signers_are_denied if {
	denials := gitlab.deny with input as f.input_of([f.github_with({}), f.key_sig]) with data.config.gitlab as cfg
	"gitlab.not_gitlab" in f.codes(denials)
	some d in denials
	contains(d.msg, "key abc123")
}

test_one_acceptable_signature_suffices if {
	count(gitlab.deny) == 0 with input as f.input_of([f.github_with({}), f.gitlab_sig]) with data.config.gitlab as cfg
}

test_no_signature_no_findings if {
	count(gitlab.deny) == 0 with input as f.input_of([]) with data.config.gitlab as cfg
}

# Absent refs never mean "any ref".
test_refs_absent_means_no_ref if {
	denials := gitlab.deny with input as f.input_of([f.gitlab_sig]) with data.config.gitlab as {"projects": ["acme/*"]}
	f.codes(denials) == {"gitlab.ref"}
	some d in denials
	d.msg == "ref refs/heads/main may not ship (branches: none; tags: none)"
}

test_any_ref_must_be_said if {
	count(gitlab.deny) == 0 with input as f.input_of([tag("whatever")]) with data.config.gitlab as {"projects": ["acme/*"], "any_ref": true}
	deny_codes([f.gitlab_sig], {"projects": ["acme/*"], "any_ref": false}) == {"gitlab.ref"}
}

test_accepted_lists_the_signatures_that_meet_every_requirement if {
	evil := f.gitlab_with({"project_path": "evil/app", "ci_config_project_path": "evil/app"})
	gitlab.accepted == {1} with input as f.input_of([evil, f.gitlab_sig]) with data.config.gitlab as cfg
	count(gitlab.accepted) == 0 with input as f.input_of([evil]) with data.config.gitlab as cfg
}
