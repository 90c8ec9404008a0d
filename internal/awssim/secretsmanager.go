package awssim

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// secret is one Secrets Manager secret with its versions, newest last.
type secret struct {
	name     string
	region   string
	arn      string
	versions []*secretVersion
}

type secretVersion struct {
	id     string
	stages []string
	value  string
	binary []byte
}

// PutSecret creates the secret in region, or adds a version to it, and makes
// the new version AWSCURRENT; the version that was current becomes
// AWSPREVIOUS, as a rotation does. It returns the new version's id and the
// secret's ARN.
func (s *Server) PutSecret(region, name, value string) (versionID, arn string) {
	return s.putSecret(region, name, &secretVersion{value: value})
}

// PutSecretBinary is PutSecret for a secret stored as bytes.
func (s *Server) PutSecretBinary(region, name string, value []byte) (versionID, arn string) {
	return s.putSecret(region, name, &secretVersion{binary: value})
}

// LabelSecretVersion attaches a staging label to a version, moving it from
// any other version, as UpdateSecretVersionStage does.
func (s *Server) LabelSecretVersion(name, versionID, stage string) {
	s.mu.Lock()
	defer s.mu.Unlock()

	for _, v := range s.secrets[name].versions {
		v.stages = slices.DeleteFunc(v.stages, func(st string) bool { return st == stage })
		if v.id == versionID {
			v.stages = append(v.stages, stage)
		}
	}
}

func (s *Server) putSecret(region, name string, v *secretVersion) (string, string) {
	s.mu.Lock()
	defer s.mu.Unlock()

	sec := s.secrets[name]
	if sec == nil {
		// Secrets Manager appends six random characters to the name in
		// the ARN.
		sec = &secret{name: name, region: region}
		sec.arn = fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", region, Account, name, rand.Text()[:6])
		s.secrets[name] = sec
	}

	s.nextSerial++
	v.id = fmt.Sprintf("%08d-0000-4000-8000-%012d", s.nextSerial, s.nextSerial)
	v.stages = []string{"AWSCURRENT"}
	for _, old := range sec.versions {
		old.stages = slices.DeleteFunc(old.stages, func(st string) bool { return st == "AWSPREVIOUS" })
		if i := slices.Index(old.stages, "AWSCURRENT"); i >= 0 {
			old.stages[i] = "AWSPREVIOUS"
		}
	}
	sec.versions = append(sec.versions, v)

	return v.id, sec.arn
}

type getSecretValueInput struct {
	SecretId     string
	VersionId    string
	VersionStage string
}

func (s *Server) getSecretValue(w http.ResponseWriter, body []byte, region string) {
	var in getSecretValueInput
	if err := json.Unmarshal(body, &in); err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	sec := s.findSecret(in.SecretId)
	if sec == nil || sec.region != region {
		writeError(w, http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
		return
	}
	if s.denied[sec.name] || s.denied[sec.arn] {
		writeError(w, http.StatusBadRequest, "AccessDeniedException", fmt.Sprintf(
			"User: arn:aws:iam::%s:user/test is not authorized to perform: secretsmanager:GetSecretValue on resource: %s because no identity-based policy allows the secretsmanager:GetSecretValue action",
			Account, in.SecretId))
		return
	}

	v := sec.version(in.VersionId, in.VersionStage)
	if v == nil {
		writeError(w, http.StatusBadRequest, "ResourceNotFoundException",
			"Secrets Manager can't find the specified secret value for VersionId or VersionStage.")
		return
	}

	out := map[string]any{
		"ARN":           sec.arn,
		"Name":          sec.name,
		"VersionId":     v.id,
		"VersionStages": v.stages,
		"CreatedDate":   float64(time.Now().Unix()),
	}
	if v.binary != nil {
		out["SecretBinary"] = v.binary
	} else {
		out["SecretString"] = v.value
	}
	writeJSON(w, out)
}

// findSecret accepts a name or a full ARN.
func (s *Server) findSecret(id string) *secret {
	if !strings.HasPrefix(id, "arn:") {
		return s.secrets[id]
	}
	for _, sec := range s.secrets {
		if sec.arn == id {
			return sec
		}
	}
	return nil
}

// version picks by id, then by stage, then AWSCURRENT. With both set they
// must name the same version, as in AWS.
func (sec *secret) version(id, stage string) *secretVersion {
	if stage == "" && id == "" {
		stage = "AWSCURRENT"
	}
	for _, v := range sec.versions {
		if id != "" && v.id != id {
			continue
		}
		if stage != "" && !slices.Contains(v.stages, stage) {
			continue
		}
		return v
	}
	return nil
}
