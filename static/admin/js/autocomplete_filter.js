'use strict';
// orders/admin/scale.py AutocompleteFilter: choosing an object in the filter's autocomplete
// reloads the changelist filtered by it (from page 1); clearing it removes the filter.
window.addEventListener('load', function() {
    const $ = window.django && window.django.jQuery;
    if (!$) { return; }
    $('select[data-filter]').on('change', function() {
        const url = new URL(window.location.href);
        url.searchParams.delete('p');
        if (this.value) {
            url.searchParams.set(this.dataset.filter, this.value);
        } else {
            url.searchParams.delete(this.dataset.filter);
        }
        window.location.href = url.toString();
    });
});
