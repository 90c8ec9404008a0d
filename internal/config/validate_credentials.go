package config

// checkDockerConfig allows docker_config only as the one source of an
// upstream's credentials: with username and password as well, which one
// wins would be a guess.
func checkDockerConfig(p *problems, path string, u Upstream) {
	if u.DockerConfig && (u.Username != "" || u.Password != "") {
		p.add(path+".docker_config", "set either docker_config or username and password, not both")
	}
}
