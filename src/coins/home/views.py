from __future__ import annotations

from litestar import Controller, get
from litestar.response import Template


class HomePages(Controller):
    include_in_schema = False

    @get("/", name="home")
    async def home(self) -> Template:
        return Template("home.html")
