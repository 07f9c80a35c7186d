"""The bottom layer every other package builds on: where things live (``paths``), the results DB
(``store``) and how child services are run (``service``). It imports no other Ring Lab package."""
