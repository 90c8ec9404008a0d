package awssim

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// parameter is one Parameter Store parameter.
type parameter struct {
	name    string
	region  string
	typ     string // String, StringList or SecureString
	value   string
	version int64
}

// PutParameter creates or overwrites a parameter. typ is "String" or
// "SecureString"; a SecureString is returned in plain text only to requests
// with WithDecryption.
func (s *Server) PutParameter(region, name, typ, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()

	p := s.params[name]
	if p == nil {
		p = &parameter{name: name, region: region}
		s.params[name] = p
	}
	p.typ = typ
	p.value = value
	p.version++
}

type getParameterInput struct {
	Name           string
	WithDecryption bool
}

func (s *Server) getParameter(w http.ResponseWriter, body []byte, region string) {
	var in getParameterInput
	if err := json.Unmarshal(body, &in); err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	p := s.params[parameterName(in.Name)]
	if p == nil || p.region != region {
		writeError(w, http.StatusBadRequest, "ParameterNotFound", "")
		return
	}
	if s.denied[p.name] {
		writeError(w, http.StatusBadRequest, "AccessDeniedException", fmt.Sprintf(
			"User: arn:aws:iam::%s:user/test is not authorized to perform: ssm:GetParameter on resource: arn:aws:ssm:%s:%s:parameter%s",
			Account, region, Account, in.Name))
		return
	}

	value := p.value
	if p.typ == "SecureString" && !in.WithDecryption {
		// AWS returns the KMS ciphertext; any opaque text will do here.
		value = base64.StdEncoding.EncodeToString([]byte("ciphertext:" + p.name))
	}

	writeJSON(w, map[string]any{"Parameter": map[string]any{
		"Name":     p.name,
		"Type":     p.typ,
		"Value":    value,
		"Version":  p.version,
		"ARN":      fmt.Sprintf("arn:aws:ssm:%s:%s:parameter%s", region, Account, p.name),
		"DataType": "text",
	}})
}

// parameterName accepts a name or an ARN,
// arn:PARTITION:ssm:REGION:ACCOUNT:parameter/NAME, whose name is the part
// from the slash on.
func parameterName(nameOrARN string) string {
	if !strings.HasPrefix(nameOrARN, "arn:") {
		return nameOrARN
	}
	_, name, found := strings.Cut(nameOrARN, ":parameter")
	if !found {
		return nameOrARN
	}
	return name
}
