"""POST /v1/identify (a login: link a device to a person) and DELETE /v1/identify (undo a wrong link)."""

from service.schemas import IdentifySchema, IdentityResultSchema
from service.views import services
from service.views.body import Blueprint

blp = Blueprint("identify", __name__, url_prefix="/v1", description="One person across devices (docs/identity.md)")


@blp.route("/identify", methods=["POST"])
@blp.scope("server")  # a page could name anyone's user id: only a brand's back end may link
@blp.arguments(IdentifySchema)
@blp.refuses(400, 409, 413, 422, 503)
@blp.response(200, IdentityResultSchema, description="the link, journaled; the device is the person's from `at`")
def post_identify(body: dict):
    """Link a device to a person (a login). Its anonymous history joins the person's context the first time it
    is linked, once; a device linked before (shared) moves to this person without merging. Changes no stage."""
    return services().identities.link(body)


@blp.route("/identify", methods=["DELETE"])
@blp.scope("server")
@blp.arguments(IdentifySchema)
@blp.refuses(400, 409, 413, 422, 503)
@blp.response(200, IdentityResultSchema, description="the unlink, journaled; the device is anonymous from `at`")
def delete_identify(body: dict):
    """Undo a wrong link: the device is anonymous again from now (what was merged stays: erasure removes it)."""
    return services().identities.unlink(body)
