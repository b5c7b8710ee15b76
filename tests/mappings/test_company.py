"""RULES A1 (and A4's message): the tenant's Gestionix company and sucursal chosen by name."""

from __future__ import annotations

import pytest

from mappings.company import NotChosen, choose_branch, choose_company

COMPANIES = [
    {
        "company_id": 92,
        "emitter": {
            "business_name": "DISTRIBUIDORA LUCÍA SA DE CV",
            "commercial_name": "Lucía Distribuciones",
            "tax_id": None,
        },
    },
    {
        "company_id": 93,
        "emitter": {"business_name": "OTRA EMPRESA SA", "commercial_name": "", "tax_id": None},
    },
]
BRANCHES = [
    {"branch_id": 310, "name": "Matriz", "type": "Store", "active": True},
    {"branch_id": 311, "name": "Sucursal Querétaro", "type": "Store", "active": True},
]


@pytest.mark.parametrize(
    "company", [92, "92", " 92 ", "lucia distribuciones", "  Distribuidora Lucia SA de CV "]
)
def test_a1_a_company_by_id_or_by_either_emitter_name_ignoring_case_and_accents(company):
    assert choose_company(COMPANIES, company, "t") == 92


def test_a1_no_company_configured_and_a_single_one_is_that_one():
    assert choose_company(COMPANIES[:1], None, "t") == 92
    assert choose_company(COMPANIES[:1], "  ", "t") == 92


def test_a1_no_company_configured_and_two_lists_them():
    with pytest.raises(
        NotChosen, match="no Gestionix company configured.*92 .*Lucía Distribuciones.*93"
    ):
        choose_company(COMPANIES, None, "t")


def test_a1_an_unknown_or_ambiguous_company_is_never_guessed():
    with pytest.raises(NotChosen, match="94 is not among the user's companies: 92 "):
        choose_company(COMPANIES, 94, "t")
    twins = [*COMPANIES, {"company_id": 95, "emitter": {"business_name": "Otra Empresa SA"}}]
    with pytest.raises(NotChosen, match="'otra empresa sa' matches several companies"):
        choose_company(twins, "otra empresa sa", "t")


def test_a1_a_branch_name_with_other_case_accents_and_spaces_is_found():
    assert choose_branch(BRANCHES, "  sucursal QUERETARO ", 92)["branch_id"] == 311


def test_a1_of_two_branches_with_one_name_the_only_active_one_wins():
    closed = {"branch_id": 312, "name": "MATRIZ", "active": False}
    assert choose_branch([closed, *BRANCHES], "matriz", 92)["branch_id"] == 310
    with pytest.raises(NotChosen, match="'Matriz' matches 2 branches of company 92"):
        choose_branch([{**closed, "active": True}, *BRANCHES], "Matriz", 92)


def test_a4_an_unknown_branch_lists_the_existing_ones():
    with pytest.raises(
        NotChosen, match="'Centro' not found in company 92.*'Matriz', 'Sucursal Querétaro'"
    ):
        choose_branch(BRANCHES, "Centro", 92)
    with pytest.raises(NotChosen, match="existing branches: none"):
        choose_branch([], "Matriz", 92)
