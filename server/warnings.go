package server

import "orchestrator/tosca2tf"

// WarningJSON is one translator warning: something the template asks for that
// the deployment will not do (a property no target honours, a node that is only
// recorded), at its place in the template. The run's logs keep them too.
type WarningJSON struct {
	Message string `json:"message"`
	Kind    string `json:"kind"`
	Node    string `json:"node,omitempty"`
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
}

func warningsJSON(ws tosca2tf.Errors) []WarningJSON {
	out := make([]WarningJSON, 0, len(ws))
	for _, w := range ws {
		out = append(out, WarningJSON{Message: w.Message, Kind: string(w.Kind), Node: w.Node,
			File: w.Pos.File, Line: w.Pos.Line, Column: w.Pos.Column})
	}
	return out
}

// submittedJSON is the answer to a submission: the deployment and the
// translator's warnings about its template.
type submittedJSON struct {
	DeploymentJSON
	Warnings []WarningJSON `json:"warnings"`
}

// checkedTemplateJSON is the answer to adding or changing a catalog template:
// the template and the translator's warnings about it.
type checkedTemplateJSON struct {
	TemplateJSON
	Warnings []WarningJSON `json:"warnings"`
}

// templateWarnings are a catalog template's warnings: the translation's for the
// local target with the default inputs, or the parser's alone when the template
// needs inputs to translate.
func templateWarnings(t *tosca2tf.Template) []WarningJSON {
	if res, err := tosca2tf.Translate(t, tosca2tf.Options{Target: "local"}); err == nil {
		return warningsJSON(res.Warnings)
	}
	return warningsJSON(t.Warnings)
}
