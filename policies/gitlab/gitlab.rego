# GitLab CI signers: which instances, projects, CI configs, refs and runners may ship.
#
# Configured by data (YAML or JSON), under `config.gitlab`:
#
#   config:
#     gitlab:
#       instances: [https://gitlab.com]        # default: [https://gitlab.com]
#       projects: [acme/app, "acme/libs/*"]    # source projects (globs); required
#       ci_config_projects: [acme/app]         # whose CI config may run; default: projects
#       project_ids: ["55235664"]              # pin numeric ids (renames, re-creations)
#       namespace_ids: ["12885801"]
#       ci_config_paths: [.gitlab-ci.yml]      # globs
#       refs:                                  # required (or any_ref: true)
#         branches: [main]                     # globs; absent: no branch may ship
#         tags: ["v*"]                         # globs; absent: no tag may ship,
#         semver_tags: true                    #   unless semver_tags (then any semver tag)
#       # any_ref: true                        # instead of refs: any ref may ship
#       runner_environments: [gitlab-hosted]   # default: [gitlab-hosted]
#       allow_fork_pipelines: false            # default: false
#
# The keys are checked against config.schema.json when the policy loads: a misspelled
# key, a wrong type or a missing `projects`/`refs` stops the run (exit 2). A subject
# passes this policy when at least one of its signatures meets every requirement;
# otherwise every requirement each signature misses is reported. `accepted` lists the
# signatures that meet them: attestations count only when their signer is accepted.
package vouch.gitlab

import data.vouch.lib

cfg := data.config.gitlab

instances := object.get(cfg, "instances", ["https://gitlab.com"])

ci_config_projects := object.get(cfg, "ci_config_projects", cfg.projects)

runner_environments := object.get(cfg, "runner_environments", ["gitlab-hosted"])

# A configuration without projects must not mean "any project".
violation contains [i, "gitlab.config", "config.gitlab.projects is required: list the projects that may ship"] if {
	cfg
	some i, _ in input.signatures
	not cfg.projects
}

# violation contains [signature index, code, message]
violation contains [i, "gitlab.not_gitlab", msg] if {
	cfg
	some i, s in input.signatures
	not s.claims.gitlab
	msg := sprintf("signature %d is not from GitLab CI: %s", [i, lib.signer(s)])
}

violation contains [i, "gitlab.instance", msg] if {
	cfg
	some i, s in input.signatures
	not s.claims.gitlab.instance in instances
	msg := sprintf("GitLab instance %s is not allowed (allowed: %s)", [s.claims.gitlab.instance, concat(", ", instances)])
}

violation contains [i, "gitlab.project", msg] if {
	cfg
	some i, s in input.signatures
	not lib.any_glob_match(cfg.projects, s.claims.gitlab.project_path)
	msg := sprintf("source project %s is not allowed (allowed: %s)", [s.claims.gitlab.project_path, concat(", ", cfg.projects)])
}

violation contains [i, "gitlab.ci_config_project", msg] if {
	cfg
	some i, s in input.signatures
	not lib.any_glob_match(ci_config_projects, s.claims.gitlab.ci_config_project_path)
	msg := sprintf("the CI config of project %s ran; allowed: %s", [s.claims.gitlab.ci_config_project_path, concat(", ", ci_config_projects)])
}

# The SAN names acme/app's CI config but the code came from another project: a
# merge-request pipeline from a fork (GitLab's project claims name the fork).
violation contains [i, "gitlab.fork", msg] if {
	cfg
	some i, s in input.signatures
	g := s.claims.gitlab
	g.project_path != g.ci_config_project_path
	not cfg.allow_fork_pipelines
	msg := sprintf("the CI config of %s ran for code from another project, %s (a merge request from a fork?)", [g.ci_config_project_path, g.project_path])
}

violation contains [i, "gitlab.project_id", msg] if {
	cfg
	some i, s in input.signatures
	cfg.project_ids
	not s.claims.gitlab.project_id in {sprintf("%v", [id]) | some id in cfg.project_ids}
	msg := sprintf("project id %s of %s is not pinned (expected %s): renamed or re-created project?", [object.get(s.claims.gitlab, "project_id", "none"), s.claims.gitlab.project_path, concat(", ", [sprintf("%v", [id]) | some id in cfg.project_ids])])
}

violation contains [i, "gitlab.namespace_id", msg] if {
	cfg
	some i, s in input.signatures
	cfg.namespace_ids
	not s.claims.gitlab.namespace_id in {sprintf("%v", [id]) | some id in cfg.namespace_ids}
	msg := sprintf("namespace id %s of %s is not pinned (expected %s)", [object.get(s.claims.gitlab, "namespace_id", "none"), s.claims.gitlab.namespace, concat(", ", [sprintf("%v", [id]) | some id in cfg.namespace_ids])])
}

violation contains [i, "gitlab.ci_config_path", msg] if {
	cfg
	some i, s in input.signatures
	cfg.ci_config_paths
	not lib.any_glob_match(cfg.ci_config_paths, s.claims.gitlab.ci_config_path)
	msg := sprintf("CI config %s is not allowed (allowed: %s)", [s.claims.gitlab.ci_config_path, concat(", ", cfg.ci_config_paths)])
}

# Absent refs never mean "any ref": that takes `any_ref: true`.
violation contains [i, "gitlab.ref", msg] if {
	cfg
	some i, s in input.signatures
	not cfg.any_ref == true
	not ref_allowed(s.claims.gitlab)
	msg := sprintf("ref %s may not ship (%s)", [s.claims.gitlab.ref, lib.refs_rule(object.get(cfg, "refs", {}))])
}

violation contains [i, "gitlab.runner", msg] if {
	cfg
	some i, s in input.signatures
	s.claims.gitlab
	not object.get(s.claims, "runner_environment", "none") in runner_environments
	msg := sprintf("built on a %s runner; required: %s", [object.get(s.claims, "runner_environment", "unknown"), concat(", ", runner_environments)])
}

ref_allowed(g) if lib.ref_allowed(cfg.refs, g.ref_type, g.ref_name)

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

deny contains {"msg": msg, "code": code, "title": "GitLab signer not allowed", "solution": "sign from an allowed project, ref and runner, or update config.gitlab"} if {
	cfg # inactive without its configuration
	count(input.signatures) > 0
	count(accepted) == 0
	some [_, code, msg] in violation
}
