def test_city_sees_all_and_district_only_its_own(client_for, city_data):
    assert client_for("city").get("/registry/cooperatives/").context["table"].paginator.count == 3
    response = client_for("district_a").get("/registry/cooperatives/")
    assert response.context["table"].paginator.count == 2
    assert (
        client_for("district_a").get(f"/registry/cooperatives/{city_data['coop_b'].pk}/").status_code == 404
    )
