"""One search of a message's nearest validated rows answers routing's and the suggestion's
narrower searches when it can, with what those searches would have returned."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.http import keys
from gateway.services.triage import build_triage
from storage import routing
from storage.neighbours import Nearby, Neighbour
from storage.routing import RoutingRepository
from storage.vectors import QueryVector
from tests.routing_helpers import import_kb

ROWS = [
    Neighbour(1, "vendas", "Temos, sim.", "a", 0.9),
    Neighbour(2, None, "Sem setor.", "b", 0.8),
    Neighbour(3, "financeiro", "  ", "c", 0.7),  # spaces only: no answer
    Neighbour(4, "financeiro", "\nPague na agência.", "d", 0.6),
]


def test_nearby_answers_a_narrower_search_only_when_it_can_tell() -> None:
    full = Nearby(ROWS, complete=False)
    assert [n.id for n in full.first(2)] == [1, 2]
    assert [n.id for n in full.first(2, need_sector=True)] == [1, 3]
    # As in SQL (length(btrim(answer)) > 0), only spaces make an answer empty.
    assert [n.id for n in full.first(2, need_answer=True)] == [1, 2]
    assert [n.id for n in full.first(1, sector="financeiro", need_answer=True)] == [4]
    # Two financeiro rows with answers may exist beyond these: it cannot tell.
    assert full.first(2, sector="financeiro", need_answer=True) is None
    assert full.first(1, sector="suporte") is None
    # Fewer rows came back than were asked for: there is nothing else to find.
    everything = Nearby(ROWS, complete=True)
    assert [n.id for n in everything.first(2, sector="financeiro", need_answer=True)] == [4]
    assert everything.first(3, sector="suporte") == []


KB = [
    *[
        {"question": q, "answer": a, "sector": "financeiro"}
        for q, a in [
            ("Como emito a segunda via do boleto?", "Em Minha conta > Faturas."),
            ("Meu boleto venceu, e agora?", "Gere um novo boleto em Faturas."),
            ("Posso pagar com cartão de crédito?", "Sim, em até 12 vezes."),
            ("A fatura veio com valor errado", "Abra uma contestação em Faturas."),
            ("Quero o reembolso da cobrança duplicada", "O estorno sai em até 5 dias úteis."),
            ("Como mudo a data de vencimento?", "Em Minha conta > Pagamento."),
            ("Vocês emitem nota fiscal?", "Sim, ela chega por email."),
        ]
    ],
    *[
        {"question": q, "answer": a, "sector": "suporte"}
        for q, a in [
            ("Esqueci minha senha", "Use 'Esqueci minha senha' na entrada."),
            ("O aplicativo não abre", "Reinstale o aplicativo."),
            ("Não recebo o email de confirmação", "Veja a caixa de spam."),
            ("A tela fica branca ao entrar", "Limpe o cache do navegador."),
            ("Como ativo a verificação em duas etapas?", "Em Segurança > Duas etapas."),
            ("O app trava ao enviar foto", "Atualize para a última versão."),
        ]
    ],
    {"question": "Quero falar com um vendedor", "answer": "Chamo um agora.", "sector": "vendas"},
]


async def test_searches_answered_from_nearby_equal_the_searches_themselves(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await import_kb(client, KB)
    app = client.server.app
    repository = RoutingRepository(app[keys.SESSIONS])
    searches = 0
    search = routing._search

    # Searches that reach the database, whichever method sent them.
    async def counted(engine: Any, ef_search: int | None, query: str, *args: Any) -> list[Any]:
        nonlocal searches
        searches += "validated_by = 'human'" in query and "ORDER BY embedding" in query
        return await search(engine, ef_search, query, *args)

    monkeypatch.setattr(routing, "_search", counted)
    router, suggestions = build_triage(
        app[keys.SETTINGS], app[keys.SECTORS], repository, app[keys.EMBEDDER], threshold=0.0
    )
    model = app[keys.EMBEDDER].model_id
    texts = ["Minha fatura veio errada", "Não consigo entrar no app", "Quero comprar o plano"]
    vectors = await app[keys.EMBEDDER].embed(texts)
    saved_with_twelve = 0
    for text, floats in zip(texts, vectors, strict=True):
        vector = QueryVector(floats)
        for limit in (12, 20):  # 12: too few rows to answer some searches; 20: all of them
            nearby = await repository.nearby(vector, limit=limit, model_id=model)
            before = searches
            decision = await router.route(text, vector, nearby=nearby)
            ranked = await suggestions.candidates(vector, decision.sector, nearby=nearby)
            with_nearby = searches - before
            assert decision == await router.route(text, vector)
            assert ranked == await suggestions.candidates(vector, decision.sector)
            assert searches - before - with_nearby == 3  # route, any sector, its sector
            if limit == 20:  # 14 rows: the search came back complete
                assert with_nearby == 0
            else:
                saved_with_twelve += 3 - with_nearby
    # Twelve rows answer some searches (routing's 10) but not others (the suggestion's 30,
    # in any sector and in the routed one).
    assert 0 < saved_with_twelve < 3 * 3
