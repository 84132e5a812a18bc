// The form_post response page: hand the answer to the app at once. Without JavaScript, the page's button does it.
document.getElementById("form-post").submit();
