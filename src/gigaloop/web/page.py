"""One self-contained HTML page with Plotly figures, small enough to mail.

Plotly's JavaScript (4.8 MB) is embedded once, gzip-compressed and Base85-encoded
(1.8 MB); the figures' JSON travels the same way, in one blob. The browser inflates both
with ``DecompressionStream`` (every current browser has it), so the page still opens
offline, and tables render before the plots arrive.

>>> page = Page("demo")
>>> page.figure(go.Figure(go.Scatter(y=[1, 3, 2])))
'<div class="plotly-graph-div" id="fig-0"></div>'
>>> html = page.render("<h1>demo</h1>")
>>> html.count("<script"), "Plotly.newPlot" in html
(3, True)
"""

from __future__ import annotations

import base64
import gzip
import html
import json
from functools import lru_cache

import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

#: Python's Base85 alphabet with ``<`` swapped for ``.``: no ``<!--`` or ``</`` can appear
#: inside a script element.
ALPHABET = ("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
            "!#$%&()*+-;.=>?@^_`{|}~")
_SWAP = str.maketrans("<", ".")

STYLE = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:auto;padding:1em;
color:#222}h2{margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:14px;margin:.5em 0}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f6f6f6}td.num{text-align:right;font-variant-numeric:tabular-nums}
.good{color:#1a7f37}.bad{color:#c62828}.muted{color:#777}.tag{padding:1px 6px;
border-radius:8px;background:#eee;white-space:nowrap}.tag.verified{background:#d7f5dd}
.tag.failed,.tag.rejected{background:#fbd9d9}.tag.effective{background:#dde8fb}
.tag.proposed{background:#fff3c4}.plotly-graph-div{min-height:360px}.note{color:#555;font-size:14px}"""

#: Decodes a blob (Base85 of gzip) in the browser; also run by the tests under Node.
DECODE_JS = """async function gigaloopInflate(text){
 const A=@ALPHABET@,d=new Int16Array(128).fill(-1);for(let i=0;i<85;i++)d[A.charCodeAt(i)]=i;
 const [n,body]=text.trim().split(":");const out=new Uint8Array(body.length/5*4);
 for(let i=0,o=0;i<body.length;i+=5,o+=4){let v=0;
  for(let j=0;j<5;j++)v=v*85+d[body.charCodeAt(i+j)];
  out[o]=v/16777216&255;out[o+1]=v>>>16&255;out[o+2]=v>>>8&255;out[o+3]=v&255;}
 const s=new Blob([out.subarray(0,+n)]).stream().pipeThrough(new DecompressionStream("gzip"));
 return await new Response(s).text();}""".replace("@ALPHABET@", json.dumps(ALPHABET))

LOADER_JS = """(async()=>{const get=id=>document.getElementById(id).textContent;
 try{const js=document.createElement("script");js.text=await gigaloopInflate(get("plotly-gz"));
  document.head.appendChild(js);const figs=JSON.parse(await gigaloopInflate(get("figs-gz")));
  figs.forEach((f,i)=>Plotly.newPlot("fig-"+i,f.data,f.layout,{responsive:true}));}
 catch(e){document.querySelectorAll(".plotly-graph-div").forEach(el=>{el.textContent=
  "This browser cannot inflate the embedded plots ("+e+"); tables above are complete.";});}
})();"""


def pack(data: bytes) -> str:
    """``data`` gzipped and Base85-encoded, prefixed with the compressed length.

    >>> pack(b"abc")[:3]
    '23:'
    """
    packed = gzip.compress(data, compresslevel=9, mtime=0)
    return f"{len(packed)}:" + base64.b85encode(packed, pad=True).decode().translate(_SWAP)


def unpack(text: str) -> bytes:
    """Undo :func:`pack` (what the page's JavaScript does).

    >>> unpack(pack(b"gigaloop"))
    b'gigaloop'
    """
    size, body = text.strip().split(":")
    return gzip.decompress(base64.b85decode(body.replace(".", "<"))[: int(size)])


@lru_cache(maxsize=1)
def plotly_blob() -> str:
    """Plotly's JavaScript, packed (computed once per process)."""
    return pack(get_plotlyjs().encode("utf-8"))


class Page:
    """An HTML page that collects figures as placeholders and embeds them on render."""

    def __init__(self, title: str) -> None:
        self.title = title
        self._figures: list[str] = []

    def figure(self, fig: go.Figure) -> str:
        """A placeholder ``div`` for ``fig``; its JSON goes into the page's figure blob."""
        self._figures.append(pio.to_json(fig, validate=False, engine="json"))
        return f'<div class="plotly-graph-div" id="fig-{len(self._figures) - 1}"></div>'

    def render(self, body: str) -> str:
        """The whole page: ``body``, then Plotly and the figures, packed."""
        figures = ("[" + ",".join(self._figures) + "]").encode("utf-8")
        return f"""<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{html.escape(self.title)}</title><style>{STYLE}</style></head><body>
{body}
<script type="application/x-gzip-base85" id="plotly-gz">{plotly_blob()}</script>
<script type="application/x-gzip-base85" id="figs-gz">{pack(figures)}</script>
<script>{DECODE_JS}
{LOADER_JS}</script></body></html>"""


def json_blob(html_page: str, blob_id: str) -> str:
    """The packed text of the blob ``blob_id`` in a rendered page (for tests and tools)."""
    start = html_page.index(f'id="{blob_id}">') + len(f'id="{blob_id}">')
    return html_page[start:html_page.index("</script>", start)]


def figures_of(html_page: str) -> list[dict]:
    """The figures embedded in a rendered page, as Plotly JSON dicts."""
    return json.loads(unpack(json_blob(html_page, "figs-gz")))
