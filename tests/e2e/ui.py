"""Driving the app as a person would, counting what they do.

Every click, drag, typed field, chosen option and key press is one action;
the abandoned-cart test holds the editor to a budget of them.
"""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect


class Ui:
    def __init__(self, page: Page):
        self.page = page
        self.actions = 0

    # ------------------------------------------------------------ counted actions
    def click(self, target: Locator) -> None:
        target.click()
        self.actions += 1

    def fill(self, target: Locator, text: str) -> None:
        target.fill(text)
        self.actions += 1

    def select(self, target: Locator, value: str) -> None:
        target.select_option(value)
        self.actions += 1

    def press(self, target: Locator, key: str) -> None:
        target.press(key)
        self.actions += 1

    def key(self, combo: str) -> None:
        self.page.keyboard.press(combo)
        self.actions += 1

    def drop(self, label: str, x: int, y: int) -> None:
        """Drag a palette item onto the canvas at (x, y) of the canvas pane."""
        self.page.get_by_role("button", name=f"Add {label}", exact=True).drag_to(
            self.pane, target_position={"x": x, "y": y}
        )
        self.actions += 1

    def connect(self, source: str, handle: str, target: str) -> None:
        """Drag from a node's output handle to another node's input."""
        self.handle(source, handle).drag_to(self.node(target).locator(".react-flow__handle.target"))
        self.actions += 1

    # ------------------------------------------------------------ where things are
    @property
    def pane(self) -> Locator:
        return self.page.locator(".react-flow__pane")

    def node(self, node_id: str) -> Locator:
        return self.page.locator(f'.react-flow__node[data-id="{node_id}"]')

    def handle(self, node_id: str, handle: str) -> Locator:
        return self.node(node_id).locator(f'.react-flow__handle.source[data-handleid="{handle}"]')

    def panel(self) -> Locator:
        return self.page.locator("aside.side-panel")

    def saved(self, timeout: float = 10_000) -> None:
        expect(self.page.locator(".save-state")).to_have_attribute(
            "data-state", "saved", timeout=timeout
        )


def log_in(page: Page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/workflows/")
