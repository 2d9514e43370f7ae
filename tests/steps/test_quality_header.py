"""A failed data-quality report opens the HTML reports' header: the data looks broken."""

from __future__ import annotations

import re
from pathlib import Path

from tasks.adapters.evidently_report import add_report_header
from tasks.steps.monitoring import quality_alert
from tests.quality_reports import broken_wind, healthy


def test_a_failed_data_quality_report_opens_the_header(tmp_path: Path):
    """Failing checks first, with their numbers and tolerances, in a red box under the title;
    the checks that passed folded; written again, the box is not doubled."""
    page = tmp_path / "drift.html"
    page.write_text("<html><body><p>report</p></body></html>")
    alert = quality_alert(broken_wind())
    assert alert is not None and quality_alert(healthy()) is None

    for _ in range(2):
        add_report_header(page, "model: data drift", [("Model", "model")], alert=alert)

    text = page.read_text()
    assert text.count('id="autoretrain-alert"') == 1
    box = text[text.index('id="autoretrain-alert"') : text.index("</div>")]
    assert text.index("model: data drift") < text.index('id="autoretrain-alert"')
    assert text.index('id="autoretrain-alert"') < text.index("<th", text.index("</div>"))
    assert "Data quality FAILED: the data looks broken, not the model</p>" in box
    assert (
        ">1 of 4 checks failed (missing), on wind. No retrain or promotion on this window "
        "(data_quality.action: block).</p>" in box
    )
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", box)
    assert cells[:6] == ["missing (share)", "wind", "1", "0.002", "0.05", "FAIL"]
    assert "<li>wind missing share 1.000 (reference 0.002 + 0.050)</li>" in box
    folded = box[box.index("<details") :]
    assert "the other checks: 3 passed, 1 not judged" in folded
    assert folded.count("<td") == 4 * 6
