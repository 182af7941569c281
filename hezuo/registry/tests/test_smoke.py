import pytest


def test_city_sees_all_and_district_only_its_own(client_for, city_data):
    assert client_for("city").get("/registry/cooperatives/").context["table"].paginator.count == 3
    response = client_for("district_a").get("/registry/cooperatives/")
    assert response.context["table"].paginator.count == 2
    assert (
        client_for("district_a").get(f"/registry/cooperatives/{city_data['coop_b'].pk}/").status_code == 404
    )


@pytest.mark.parametrize("persona", ["city", "viewer", "district_a", "counselor", "coop_user"])
def test_counselors_tab_names_the_assigned_counselor(client_for, city_data, persona):
    """Everyone who may see the cooperative sees who counsels it; only district and city staff assign."""
    coop = city_data["coop_a"]
    response = client_for(persona).get(f"/registry/cooperatives/{coop.pk}/?tab=counselors")
    assert response.status_code == 200
    assert [a.counselor for a in response.context["assignments"]] == [city_data["counselor"]]
    assert ('data-testid="assign-counselor"' in response.content.decode()) == (
        persona in {"city", "district_a"}
    )


def test_cooperative_user_sees_rectification_cases_without_an_empty_fieldwork_section(client_for, city_data):
    coop = city_data["coop_a"]
    page = client_for("coop_user").get(f"/registry/cooperatives/{coop.pk}/?tab=cleanup").content.decode()
    fieldwork = page.split('<div id="cleanup-tab">', 1)[1].split("</div>", 1)[0]
    assert fieldwork.strip() == ""  # fieldwork is not the cooperative's business: no section, no message
    assert '<div id="rectification-cases">\n<h3' in page  # its own rectification cases are
