# Release tags are plain vX.Y.Z: no pre-releases (v1.2.3-rc1) ship from this gate.
package vouch.release

deny contains {"msg": msg, "code": "release.tag", "solution": "tag the release as vX.Y.Z"} if {
	some s in input.signatures
	s.claims.gitlab.ref_type == "tag"
	not regex.match(data.config.release.tag_pattern, s.claims.gitlab.ref_name)
	msg := sprintf("tag %s is not a release tag (%s)", [s.claims.gitlab.ref_name, data.config.release.tag_pattern])
}
