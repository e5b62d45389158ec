"""The evaluation report as a PDF, with reportlab's built-in CJK font (STSong-Light): no font file needed."""

import io
from xml.sax.saxutils import escape

from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

FONT = "STSong-Light"


def _styles():
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    body = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=13, wordWrap="CJK")
    return (
        body,
        ParagraphStyle("h1", parent=body, fontSize=16, leading=22),
        ParagraphStyle("h2", parent=body, fontSize=12, leading=18),
    )


def yuan(fen) -> str:
    return f"{int(fen) / 100:,.2f}"


def _table(rows, body, widths=None):
    table = Table([[Paragraph(escape(str(cell)), body) for cell in row] for row in rows], colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee"))])
    )
    return table


def report_pdf(document: dict, *, sha256: str, signature: str) -> bytes:
    body, h1, h2 = _styles()
    story = [
        Paragraph(f"评标报告　{document['section']['public_id']}", h1),
        Paragraph(f"{document['section']['project']}　{document['section']['name']}", body),
        Paragraph(f"评标办法：{document['scheme']['method_label']}", body),
        Spacer(1, 4 * mm),
        Paragraph("一、评标委员会", h2),
        _table(
            [["席位", "专家编号", "姓名", "专业", "来源"]]
            + [[m["seat"], m["code"], m["name"], m["specialty"], m["source"]] for m in document["committee"]],
            body,
        ),
        *[
            Paragraph(f"评标中更换（评审结论无效）：席位 {m['seat']} {m['expert']}（{m['reason']}）", body)
            for m in document.get("replaced", [])
        ],
        Paragraph(f"抽取承诺 SHA-256：{document['draw']['commitment']}<br/>种子：{document['draw']['seed']}", body),
        *[
            Paragraph(f"补充抽取第 {r['round']} 轮（席位 {r['seats']}）：承诺 {r['commitment']}<br/>种子：{r['seed']}", body)
            for r in document["draw"].get("supplements", [])
        ],
        Spacer(1, 4 * mm),
        Paragraph("二、评审结果与排名", h2),
        _table(
            [["排名", "投标人", "投标报价（元）", "价格分", "得分", "否决"]]
            + [
                [
                    r["rank"] or "—",
                    r["bidder"],
                    yuan(r["price_fen"]),
                    r["price_score"] or "—",
                    r["score"] or "—",
                    r["rejected_label"],
                ]
                for r in document["ranking"]
            ],
            body,
        ),
        Spacer(1, 4 * mm),
        Paragraph("三、中标候选人", h2),
        _table(
            [["名次", "投标人", "报价（元）", "得分"]]
            + [[c["rank"], c["bidder"], yuan(c["price_fen"]), c["score"] or "—"] for c in document["candidates"]],
            body,
        ),
        Spacer(1, 4 * mm),
        Paragraph("四、各专家评分及签名", h2),
    ]
    for sub in document["submissions"]:
        lines = [f"席位 {sub['seat']}（{sub['expert']}）提交于 {sub['submitted_at']}"]
        for bidder, points in sub["scores"].items():
            lines.append(f"{bidder}：" + "，".join(f"{k} {v}" for k, v in points.items()))
        for bidder, rejection in sub["rejections"].items():
            lines.append(f"{bidder}：否决（{rejection['code']}）{rejection['reason']}")
        if sub["dissent"]:
            lines.append(f"保留意见：{sub['dissent']}")
        if sub.get("expert_signature"):
            lines.append(f"专家签名（ECDSA P-256）：{sub['expert_signature']}")
        lines.append(f"平台签名（Ed25519）：{sub['signature']}")
        story.append(Paragraph("<br/>".join(escape(line) for line in lines), body))
        story.append(Spacer(1, 2 * mm))
    if document["flags"]:
        story.append(Paragraph("五、串通投标预警（COLLUSION-40）", h2))
        story.append(
            _table(
                [["类型", "投标人", "证据"]] + [[f["kind"], "、".join(f["bidders"]), f["evidence"]] for f in document["flags"]],
                body,
            )
        )
    if document["dissent"]:
        story.append(Paragraph("六、不同意见", h2))
        story.append(
            _table([["席位", "投标人", "意见"]] + [[d["seat"], d["bidder"], d["voted"]] for d in document["dissent"]], body)
        )
    story += [
        Spacer(1, 6 * mm),
        Paragraph(f"报告摘要 SHA-256：{sha256}<br/>平台签名：{signature}", body),
        Paragraph(f"生成时间：{timezone.localtime().strftime('%Y-%m-%d %H:%M')}（北京时间）", body),
    ]
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, pagesize=A4, title=f"评标报告 {document['section']['public_id']}", author="阳光交易").build(story)
    return buffer.getvalue()
