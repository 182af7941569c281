"""A raw LIKE lookup (`field__like="%a%b%"`): the pattern's wildcards are kept, on every database."""

from django.db.models import CharField, Lookup, TextField


class Like(Lookup):
    lookup_name = "like"

    def as_sql(self, compiler, connection):  # type: ignore[no-untyped-def]
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} LIKE {rhs}", [*lhs_params, *rhs_params]


CharField.register_lookup(Like)
TextField.register_lookup(Like)
