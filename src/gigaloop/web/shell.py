"""The dashboard's page shell: navigation, figures as inline JSON drawn by one Plotly
script the app serves (:data:`PLOTLY_PATH`), the sign-in page and the refusal page.

Unlike the mailed report (:mod:`gigaloop.web.page`), a dashboard page is served live, so
Plotly's JavaScript is one cached file beside it rather than packed into every page.

>>> page = LivePage("plant", "Plant", user="ana", role="plant_engineer")
>>> page.figure(go.Figure(go.Scatter(y=[1, 3, 2])))
'<div class="plotly-graph-div" id="fig-0"></div>'
>>> html = page.render("<p>hello</p>")
>>> html.count(PLOTLY_PATH), "Plotly.newPlot" in html, "</script><b>" in figure_json(
...     [go.Figure(go.Scatter(y=[1], text=["</script><b>"]))])
(1, True, False)
"""

from __future__ import annotations

import html
from functools import lru_cache

import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

from gigaloop.web.page import STYLE

PLOTLY_PATH = "/dashboard/plotly.js"
#: Headers of every dashboard HTML answer: live data is not cached, and no other site may
#: frame a page (its buttons act for the signed-in user).
PAGE_HEADERS = {"Cache-Control": "no-store", "X-Frame-Options": "DENY",
                "Content-Security-Policy": "frame-ancestors 'none'"}
SESSION_PATH = "/dashboard/session"
#: Dashboard pages: (name, title, the roles that may open it).
PAGES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("plant", "Plant", ("plant_engineer",)),
    ("loop", "Loop", ("plant_engineer", "fleet_operations")),
    ("fleet", "Fleet", ("fleet_operations", "plant_engineer", "marketing_analyst")),
    ("customers", "Customers", ("fleet_operations", "marketing_analyst")),
)

DASHBOARD_STYLE = STYLE + """
nav{display:flex;gap:1em;align-items:center;border-bottom:2px solid #333;padding:.4em 0}
nav a{text-decoration:none;color:#245}nav a.here{font-weight:bold;color:#000}
nav .who{margin-left:auto;color:#555;font-size:14px}button{cursor:pointer}
button.approve{background:#d7f5dd}button.reject{background:#fbd9d9}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:1em}"""

#: Draws the figures of the page's ``figures`` JSON once Plotly has loaded.
DRAW_JS = """window.addEventListener("DOMContentLoaded",()=>{
 const figs=JSON.parse(document.getElementById("figures").textContent);
 figs.forEach((f,i)=>Plotly.newPlot("fig-"+i,f.data,f.layout,{responsive:true}));});"""

#: A change request's approve / reject buttons call the review route with the session.
REVIEW_JS = """document.addEventListener("click",async(e)=>{
 const b=e.target.closest("button[data-verdict]");if(!b)return;
 const row=b.closest("tr"),id=b.dataset.change;
 row.querySelectorAll("button").forEach(x=>x.disabled=true);
 const r=await fetch("/change-requests/"+encodeURIComponent(id)+"/review",{method:"POST",
  headers:{"Content-Type":"application/json","X-Gigaloop-Dashboard":"1"},
  body:JSON.stringify({verdict:b.dataset.verdict,comment:"from the dashboard"})});
 const out=row.querySelector(".approval");
 if(r.ok){const v=await r.json();out.textContent=v.verdict+" by "+v.user;
  out.className="approval tag "+v.verdict;}
 else{out.textContent="refused: "+((await r.json()).detail||r.status);
  row.querySelectorAll("button").forEach(x=>x.disabled=false);}});"""

SIGN_IN_JS = """document.getElementById("sign-in").addEventListener("submit",async(e)=>{
 e.preventDefault();const token=document.getElementById("token").value.trim();
 const r=await fetch(@SESSION@,{method:"POST",headers:{Authorization:"Bearer "+token}});
 if(r.ok){location.reload();}else{document.getElementById("why").textContent=
  (await r.json()).detail||("refused: "+r.status);}});""".replace(
    "@SESSION@", f'"{SESSION_PATH}"')


SIGN_IN_FORM = """<form id=sign-in><input id=token type=password size=60 autocomplete=off
placeholder="glp_…" required> <button type=submit>Sign in</button></form>
<p id=why class=bad></p>"""


@lru_cache(maxsize=1)
def plotly_js() -> bytes:
    """Plotly's JavaScript, as the app serves it at :data:`PLOTLY_PATH` (from the
    installed plotly package: no CDN)."""
    return get_plotlyjs().encode("utf-8")


def figure_json(figures: list[go.Figure]) -> str:
    """Figures as a JSON list that is safe inside a ``<script>`` element."""
    text = "[" + ",".join(pio.to_json(f, validate=False, engine="json") for f in figures) + "]"
    return text.replace("<", "\\u003c")


def pages_for(role: str) -> list[tuple[str, str]]:
    """The (name, title) of every page ``role`` may open.

    >>> pages_for("marketing_analyst")
    [('fleet', 'Fleet'), ('customers', 'Customers')]
    """
    return [(name, title) for name, title, roles in PAGES if role in roles]


def _frame(title: str, body: str, nav: str = "", scripts: str = "") -> str:
    return f"""<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{html.escape(title)} — gigaloop</title><style>{DASHBOARD_STYLE}</style></head><body>
{nav}{body}{scripts}</body></html>"""


class LivePage:
    """A dashboard page: collects figures as placeholders and draws them on load."""

    def __init__(self, name: str, title: str, *, user: str, role: str) -> None:
        self.name, self.title, self.user, self.role = name, title, user, role
        self._figures: list[go.Figure] = []

    def figure(self, fig: go.Figure) -> str:
        """A placeholder ``div`` for ``fig``, drawn when the page has loaded."""
        self._figures.append(fig)
        return f'<div class="plotly-graph-div" id="fig-{len(self._figures) - 1}"></div>'

    def nav(self) -> str:
        links = "".join(
            f'<a href="/dashboard/{n}"{" class=here" if n == self.name else ""}>{t}</a>'
            for n, t in pages_for(self.role))
        return (f"<nav><b>gigaloop</b>{links}<span class=who>{html.escape(self.user)} "
                f"({html.escape(self.role)}) · <a href=# id=sign-out>sign out</a></span></nav>")

    def render(self, body: str) -> str:
        """The whole page: navigation, ``body``, Plotly (once) and the figures."""
        sign_out = ('document.getElementById("sign-out").onclick=async(e)=>{e.preventDefault();'
                    f'await fetch("{SESSION_PATH}",{{method:"DELETE",headers:'
                    '{"X-Gigaloop-Dashboard":"1"}});location.reload();};')
        scripts = (f'<script src="{PLOTLY_PATH}"></script>'
                   f'<script type="application/json" id="figures">'
                   f"{figure_json(self._figures)}</script>"
                   f"<script>{DRAW_JS}\n{REVIEW_JS}\n{sign_out}</script>")
        return _frame(self.title, f"<h1>{html.escape(self.title)}</h1>{body}", self.nav(),
                      scripts)


def sign_in_page(reason: str) -> str:
    """What a browser gets instead of a 401: a form that trades a token for a session
    cookie (``POST /dashboard/session`` with the token as its bearer), then reloads.

    >>> "sign-in" in sign_in_page("no token")
    True
    """
    body = f"""<h1>gigaloop — sign in</h1>
<p class=note>{html.escape(reason)}</p>
<p>Paste an API token (<code>gigaloop token create --role plant_engineer --user you
--store runs/latest</code> prints one). It is kept in an HttpOnly cookie for this browser
session only.</p>
{SIGN_IN_FORM}"""
    return _frame("sign in", body, scripts=f"<script>{SIGN_IN_JS}</script>")


def refused_page(reason: str, role: str | None) -> str:
    """What a browser gets instead of a 403: why, and the pages its role may open.

    >>> "/dashboard/fleet" in refused_page("no", "marketing_analyst")
    True
    """
    links = "".join(f'<li><a href="/dashboard/{n}">{t}</a></li>'
                    for n, t in pages_for(role or ""))
    more = f"<p>Pages you may open:</p><ul>{links}</ul>" if links else (
        "<p>Your role opens no dashboard page.</p>")
    return _frame("refused", f"<h1>Not for your role</h1><p class=note>"
                  f"{html.escape(reason)}</p>{more}<h2>Sign in with another token</h2>"
                  f"{SIGN_IN_FORM}", scripts=f"<script>{SIGN_IN_JS}</script>")
