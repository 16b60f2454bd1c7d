// --- shared by the operator's pages (included inline by console.html) ---------------------------
const $=s=>document.querySelector(s), keyInput=$("#f-key"), locked=$("#locked");
// The key stays in this tab (sessionStorage) and goes out only in the Authorization header:
// never in a URL or a cookie. An older page kept it in localStorage: forget that copy.
try{localStorage.removeItem("videogen.apiKey")}catch(e){}
if(keyInput)keyInput.value=sessionStorage.getItem("videogen.apiKey")||"";
/** Run ``reload`` when a key is typed (after keeping it for the tab). */
function onKey(reload){if(keyInput)$("#keyform").addEventListener("submit",ev=>{ev.preventDefault();sessionStorage.setItem("videogen.apiKey",keyInput.value.trim());reload()})}
function auth(){const h={};const k=keyInput?keyInput.value.trim():"";if(k)h.Authorization="Bearer "+k;return h}
function headers(){return Object.assign({"Content-Type":"application/json"},auth())}
function el(tag,props,...kids){const e=document.createElement(tag);Object.assign(e,props||{});for(const k of kids)e.append(k);return e}
/** The problem JSON of a failed response (or one made from its status line). */
async function problemOf(r){return r.json().catch(()=>({title:r.statusText||("HTTP "+r.status)}))}
/** A problem shown in ``box``: title, detail and one line per field error; with ``form``, each
 *  field named by an error is marked invalid and gets its message under it. */
function showProblem(box,p,form){
  box.replaceChildren(el("p",{className:"err",textContent:(p.title||"Error")+(p.detail?": "+p.detail:"")}));
  const list=el("ul",{className:"err"});
  for(const e of p.errors||[]){list.append(el("li",{textContent:e.field+": "+e.message}));
    const name=e.field.replace(/^options\./,""),input=form&&form.elements[name];
    if(input&&input.id){input.setAttribute("aria-invalid","true");input.after(el("div",{className:"err",textContent:e.message}))}}
  if(list.children.length)box.append(list)}
