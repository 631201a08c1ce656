package server

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/gofiber/fiber/v2"
	"go.yaml.in/yaml/v3"
)

// openapiYAML is the API's OpenAPI 3 document, written by hand next to the
// handlers; a test keeps it and the route table in step.
//
//go:embed openapi/openapi.yaml
var openapiYAML []byte

var (
	openapiOnce sync.Once
	openapiJSON []byte
	openapiErr  error
)

// OpenAPI returns the document as JSON.
func OpenAPI() ([]byte, error) {
	openapiOnce.Do(func() {
		var doc any
		if err := yaml.Unmarshal(openapiYAML, &doc); err != nil {
			openapiErr = fmt.Errorf("openapi.yaml: %w", err)
			return
		}
		openapiJSON, openapiErr = json.Marshal(doc)
	})
	return openapiJSON, openapiErr
}

func (s *Server) getOpenAPI(c *fiber.Ctx) error {
	doc, err := OpenAPI()
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(doc)
}

// getDocs renders the document in the browser. It is self-contained: no CDN, as
// research clouds often run without internet access.
func (s *Server) getDocs(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline' 'self'; style-src 'unsafe-inline'")
	return c.SendString(docsPage)
}

const docsPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>orchestrator API</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1b1f24;background:#fafbfc}
header{background:#24292f;color:#fff;padding:14px 28px}header h1{margin:0;font-size:20px}
main{max-width:1100px;margin:0 auto;padding:16px 28px}
.tag{margin-top:28px;font-size:18px;border-bottom:1px solid #d0d7de;padding-bottom:4px;text-transform:capitalize}
details{background:#fff;border:1px solid #d0d7de;border-radius:6px;margin:8px 0}
summary{cursor:pointer;padding:8px 12px;display:flex;gap:12px;align-items:baseline}
.m{font:bold 12px monospace;padding:2px 6px;border-radius:4px;color:#fff;min-width:52px;text-align:center}
.GET{background:#0969da}.POST{background:#1a7f37}.PUT{background:#9a6700}.PATCH{background:#8250df}.DELETE{background:#cf222e}
.p{font-family:monospace}.s{color:#57606a}.body{padding:4px 16px 12px}
pre{background:#f6f8fa;padding:8px;border-radius:4px;overflow:auto;font-size:12px}
.lock{font-size:12px;color:#9a6700}
</style></head>
<body><header><h1>orchestrator REST API</h1><div id="desc"></div></header><main id="main">Loading /api/v1/openapi.json…</main>
<script>
fetch('/api/v1/openapi.json').then(r=>r.json()).then(doc=>{
  const esc=s=>String(s??'').replace(/[&<>"]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
  const resolve=ref=>ref.split('/').slice(1).reduce((o,k)=>o[k],doc);
  const schema=(s,depth)=>{ if(!s) return ''; if(s.$ref){ if(depth>2) return s.$ref.split('/').pop(); s=resolve(s.$ref);} 
    return JSON.stringify(s,(k,v)=> (v&&v.$ref&&depth<2)?resolve(v.$ref):v,2)};
  document.getElementById('desc').textContent=doc.info.description||'';
  const byTag={};
  for(const [path,ops] of Object.entries(doc.paths)) for(const [m,op] of Object.entries(ops)){
    if(m==='parameters') continue; (byTag[(op.tags||['other'])[0]]??=[]).push({path,m:m.toUpperCase(),op});}
  let html='';
  for(const [tag,ops] of Object.entries(byTag)){
    html+='<div class="tag">'+esc(tag)+'</div>';
    for(const {path,m,op} of ops){
      const secured=!(op.security&&op.security.length===0);
      html+='<details><summary><span class="m '+m+'">'+m+'</span><span class="p">'+esc(path)+'</span><span class="s">'+esc(op.summary)+'</span>'+(secured?'<span class="lock">bearer</span>':'')+'</summary><div class="body">';
      if(op.description) html+='<p>'+esc(op.description)+'</p>';
      const params=(op.parameters||[]).concat(ops.parameters||[]).map(p=>p.$ref?resolve(p.$ref):p);
      if(params.length) html+='<p><b>Parameters:</b> '+params.map(p=>'<code>'+esc(p.name)+'</code> ('+esc(p.in)+')').join(', ')+'</p>';
      const rb=op.requestBody&&op.requestBody.content;
      if(rb) for(const [ct,c] of Object.entries(rb)) html+='<p><b>Body</b> '+esc(ct)+'</p><pre>'+esc(schema(c.schema,0))+'</pre>';
      html+='<p><b>Responses:</b> '+Object.entries(op.responses).map(([code,r])=>'<code>'+code+'</code> '+esc((r.$ref?resolve(r.$ref):r).description)).join('; ')+'</p>';
      html+='</div></details>';
    }
  }
  document.getElementById('main').innerHTML=html;
}).catch(e=>{document.getElementById('main').textContent='Cannot load the document: '+e});
</script></body></html>`
